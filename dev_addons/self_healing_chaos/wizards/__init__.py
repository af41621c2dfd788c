from . import chaos
