from . import fix_approval
