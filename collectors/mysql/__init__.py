"""MySQL / MariaDB specifics: DSNs, privileges, replica status, binary logs, digests, global variables."""
