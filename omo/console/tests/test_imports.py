"""Console imports: upload a CSV, follow progress, read the row report; scoped to brand and role."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from omo.core.models import ImportJob
from omo.customers.models import Customer

CSV = "name,phone,email\n林小美,0912345678,mei@example.com\n壞資料,12,\n".encode()


def upload(client, content=CSV, **fields):
    data = {"kind": "customers", "mode": "valid_rows", "file": SimpleUploadedFile("c.csv", content), **fields}
    return client.post("/console/imports/", data)


def test_upload_runs_and_reports_rows(console, brand, django_capture_on_commit_callbacks, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(console)
    job = ImportJob.objects.get(brand=brand)
    assert response.status_code == 302 and response["Location"] == f"/console/imports/{job.pk}/"
    job.refresh_from_db()
    assert (job.status, job.applied_rows, job.error_rows) == ("done", 1, 1)
    assert Customer.objects.filter(brand=brand).count() == 1
    page = console.get(f"/console/imports/{job.pk}/").content.decode()
    assert 'data-testid="import-errors"' in page and "phone" in page
    progress = console.get(f"/console/imports/{job.pk}/progress.json").json()
    assert progress["percent"] == 100 and progress["finished"] is True


def test_bad_form_says_what_is_wrong(console):
    response = console.post("/console/imports/", {"kind": "planets", "mode": "valid_rows"})
    assert response.status_code == 400
    assert ImportJob.objects.count() == 0


def test_undecodable_file_is_refused(console):
    response = upload(console, content=b"\xff\xfe\x00bad\x81\x00")
    assert response.status_code == 400
    assert ImportJob.objects.count() == 0


def test_other_brand_and_weaker_roles_are_refused(console, brand, other_admin, manager, clerk, hq_admin):
    job = ImportJob.objects.create(brand=brand, kind="customers", content="name\n")
    other = Client()
    other.force_login(other_admin)
    assert other.get(f"/console/imports/{job.pk}/").status_code == 404
    assert other.get(f"/console/imports/{job.pk}/progress.json").status_code == 404
    for user in (manager, clerk):
        client = Client()
        client.force_login(user)
        assert client.get("/console/imports/").status_code == 403
        assert upload(client).status_code == 403
    anonymous = Client()
    assert anonymous.get("/console/imports/").status_code == 302
