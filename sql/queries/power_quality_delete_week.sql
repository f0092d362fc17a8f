-- Power quality: remove one week's rows before they are computed again (same transaction).
DELETE FROM power_quality_weekly WHERE week = %(week)s
