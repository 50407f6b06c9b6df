"""The Textual face of syncview. Only this package imports Textual."""
