"""Services: the queries and actions both faces (CLI, TUI) use. No Textual here."""
