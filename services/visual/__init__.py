"""Not an app: the settings base and the serving base of the two visual stages answering per expression (VE, VG)."""
