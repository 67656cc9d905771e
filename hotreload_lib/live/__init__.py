"""Run a file: each live file runs as a fresh module inside a patch transaction; what runs long is
overseen, and threads it starts report their failures."""
