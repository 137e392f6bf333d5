"""The platform above the stack: its own processes (`apps`) and what they hold in memory (`memory`)."""
