"""Provider adapters (pure translation) and the one module that does provider network I/O."""
