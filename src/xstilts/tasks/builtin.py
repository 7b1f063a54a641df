"""Imports every module that registers built-in tasks (the registry's single entry point)."""

import xstilts.tasks.crosslingual_sts  # noqa: F401
import xstilts.tasks.english  # noqa: F401
import xstilts.tasks.xstilts_intermediate  # noqa: F401
import xstilts.tasks.xtreme_r  # noqa: F401
import xstilts.tasks.xtreme_r_retrieval  # noqa: F401
from xstilts.tasks import code, humaneval_match, offline, xtreme  # noqa: F401
