"""``gunicorn bench.variant_wsgi:app``: the service with the what-ifs named in ``BENCH_VARIANTS``
(``;``-separated names from :data:`bench.variants.VARIANTS`) applied; the bench only."""

import os

from bench.variants import VARIANTS
from wsgi import app

for _name in filter(None, os.environ.get("BENCH_VARIANTS", "").split(";")):
    VARIANTS[_name](app)
