from syncview.cli import main

main()
