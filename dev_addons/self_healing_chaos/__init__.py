# faults, smtp, names and scenarios are plain modules, imported where they are used.
from . import models
from . import wizards
