from . import models
from . import wizards
from . import autopatches
from .post_load import post_load
