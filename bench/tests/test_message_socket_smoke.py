"""The message → clerk socket benchmark still runs end to end at a tiny size (real server, worker, sockets).

On the PostgreSQL + Redis run it starts `omo serve` and `omo worker`; on SQLite `omo serve --with-worker`.
"""

from __future__ import annotations

import pytest

from bench import message_socket
from omo.core.models import Brand
from omo.core.tests.processes import database_url_of_test_db


@pytest.mark.django_db(transaction=True)
def test_message_socket_bench_delivers_every_message_to_its_clerk():
    result = message_socket.run(
        clerks=3, messages=6, rate=20, workers=1, log=lambda _: None, database_url=database_url_of_test_db()
    )

    assert result["sockets"] == 3
    assert (result["delivered"], result["lost"], result["stray"]) == (6, 0, 0), result["server_log_tail"]
    assert result["statuses"] == {"200": 6}
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert not Brand.objects.filter(slug__startswith="bench-sockets-").exists()  # cleaned up
