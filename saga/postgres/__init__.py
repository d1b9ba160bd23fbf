"""Every statement on the framework's tables: the tables and their migrations, the store behind
the engine's ports, the outbox writer, the inbox, the relay's rows, signals, retention."""
