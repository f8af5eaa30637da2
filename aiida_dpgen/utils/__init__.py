"""Plain helpers without AiiDA processes: dpdata systems, engine discovery."""
