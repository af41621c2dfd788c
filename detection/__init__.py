"""The process-level half of detection: the live log capture and what it needs.

Models (one registry per database) come and go; a logging handler belongs to
the process. This package holds what lives at process level: the capture
handler's installation, the sink that stages captured signals in each
database, the cheap filters on the logging path, and the per-database
settings they read. Nothing here runs the ORM.
"""
