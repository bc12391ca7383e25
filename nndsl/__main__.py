from nndsl.cli import entry_point

entry_point()
