"""VCF Zarr on S3: a local moto server on 127.0.0.1 stands in for the object store.

The store is read exactly as from a bucket, through fsspec (s3fs) and through obstore
(``backend="obstore"``); the tests compare it with the same store on local disk, count the
HTTP GETs each window makes, and check that the credentials never show up in a repr, an error
or maskkit's output.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import sys

import numpy as np
import pytest

from maskkit import io

pytest.importorskip("zarr", reason="VCF Zarr needs zarr >= 3.1 (Python >= 3.11)")
pytest.importorskip("bio2zarr.vcf", reason="bio2zarr needs Python >= 3.11")
pytest.importorskip("s3fs", reason="s3:// URLs need s3fs (in the test extra)")
moto_server = pytest.importorskip("moto.moto_server.threaded_moto_server", reason="moto[s3]")
werkzeug_app = pytest.importorskip("moto.moto_server.werkzeug_app")

from test_io_vcz import _to_vcz  # noqa: E402  (the vcz test helpers)

BUCKET = "cohort-bucket"
KEY_ID = "AKIAMASKKITTESTKEY01"
SECRET = "maskkit-test-secret-0123456789abcdefSENTINEL"


class _Requests:
    """The (method, path) of every HTTP request the moto server answers."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[str, str]] = []
        handler = werkzeug_app.MotoRequestHandler
        real = handler.log_request

        def log_request(request, *args, **kwargs):
            self.seen.append((request.command, request.path))
            return real(request, *args, **kwargs)

        monkeypatch.setattr(handler, "log_request", log_request)

    def chunks(self, array: str, methods: tuple[str, ...] = ("GET",)) -> list[str]:
        """Chunk keys of ``array`` requested with ``methods`` (metadata and listings left out)."""
        prefix = f"/{BUCKET}/cohort.vcz/{array}/"
        return sorted(
            path[len(prefix) :]
            for method, path in self.seen
            if method in methods
            and path.startswith(prefix)
            and "?" not in path
            and not path.rsplit("/", 1)[-1].startswith(".")
        )


@pytest.fixture(params=["fsspec", "obstore"])
def backend(request):
    """Each backend of ``VcfZarrStore``: fsspec (s3fs) and obstore (skipped without it)."""
    if request.param == "obstore":
        pytest.importorskip("obstore", reason='backend="obstore" needs obstore (maskkit[s3])')
    return request.param


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server on 127.0.0.1 holding a simulated VCZ, and the local copy it came from."""
    import s3fs

    tmp = tmp_path_factory.mktemp("s3")
    data = io.simulate_demo(tmp / "d", n_diploids=30, length=60_000, seed=11, verbose=False)
    local = _to_vcz(
        data.write_vcf(tmp / "d.vcf"), tmp / "d.vcz", variants_chunk_size=32, samples_chunk_size=8
    )
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        options = {
            "key": KEY_ID,
            "secret": SECRET,
            "client_kwargs": {"endpoint_url": f"http://{host}:{port}", "region_name": "eu-west-1"},
        }
        fs = s3fs.S3FileSystem(**options)
        fs.mkdir(BUCKET)
        fs.put(str(local), f"{BUCKET}/cohort.vcz", recursive=True)
        yield f"s3://{BUCKET}/cohort.vcz", options, local
    finally:
        server.stop()


def test_s3_store_reads_as_the_local_store(s3, backend):
    url, options, local = s3
    remote = io.open_store(url, storage_options=options, backend=backend)
    here = io.open_store(local)
    assert isinstance(remote, io.VcfZarrStore)
    assert remote.samples.tolist() == here.samples.tolist()
    np.testing.assert_array_equal(remote.positions, here.positions)
    np.testing.assert_array_equal(remote.to_numpy(), here.to_numpy())
    np.testing.assert_array_equal(remote.read([9, 2, 17], 40, 70), here.read([9, 2, 17], 40, 70))
    assert remote.phased == here.phased


@pytest.mark.torch
def test_s3_and_local_give_identical_batches(s3, backend):
    torch = pytest.importorskip("torch")
    import maskkit as mk
    from maskkit.curriculum import Levels
    from maskkit.torch import HaplotypeDataset, WindowBatchSampler

    url, options, local = s3
    runs = []
    for store in (
        io.open_store(url, storage_options=options, backend=backend),
        io.open_store(local),
    ):
        masker = mk.Masker("smart_balanced", Levels([0.2, 0.5]), seed=3)
        ds = HaplotypeDataset(store, masker, windows=24, samples=range(1, 29), haplotypes=True)
        sampler = WindowBatchSampler(ds, batch_size=7, shuffle=True, seed=5)
        loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=ds.collate_fn)
        ds.set_epoch(1)
        runs.append(list(loader))
    assert len(runs[0]) == len(runs[1]) > 0
    for a, b in zip(*runs):
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_each_window_gets_only_the_chunks_it_touches(s3, backend, monkeypatch):
    url, options, local = s3
    store = io.open_store(url, storage_options=options, backend=backend)
    full = io.open_store(local).to_numpy()
    requests = _Requests(monkeypatch)
    for idx, start, stop in (([9, 2, 17], 40, 70), ([0], 0, 5), ([29, 8], 70, 110)):
        requests.seen.clear()
        store._blocks.clear()  # count every chunk the window needs, none from the cache
        store._block_bytes = 0
        np.testing.assert_array_equal(store.read(idx, start, stop), full[idx, :, start:stop])
        touched = sorted(
            f"{v}.{s}.0"
            for v in range(start // 32, (stop - 1) // 32 + 1)
            for s in sorted({i // 8 for i in idx})
        )
        # one GET per touched chunk, each once, and no HEAD (a whole chunk is read as a
        # range from byte 0: s3fs asks a whole object's size first)
        assert requests.chunks("call_genotype") == touched
        assert requests.chunks("call_genotype", ("HEAD",)) == []
        # the mask's chunks are all False, so vcf2zarr wrote none: each is asked for once,
        # found absent and read as its fill value
        assert requests.chunks("call_genotype_mask", ("HEAD", "GET")) == touched
        others = [p for _, p in requests.seen if "call_genotype" not in p]
        assert others == [], "a window reads genotype chunks only"


def test_credentials_never_appear_in_reprs_errors_or_output(s3, backend, capsys, caplog):
    url, options, _ = s3
    caplog.set_level(logging.INFO)
    store = io.open_store(url, storage_options=options, backend=backend)
    texts = [repr(store), str(store), repr(store._handle().store)]
    for bad in (f"s3://{BUCKET}/missing.vcz", f"s3://{BUCKET}/cohort.vcz/call_genotype"):
        with pytest.raises((io.StoreFormatError, FileNotFoundError)) as info:
            io.open_store(bad, storage_options=options, backend=backend)
        texts += [str(info.value), repr(info.value.__cause__), str(info.value.__cause__)]
    if backend == "obstore":
        for bad_options in (
            {**options, "use_ssl": False},
            {**options, "client_kwargs": {"verify": SECRET}},
        ):
            with pytest.raises(ValueError, match="not supported") as info:
                io.open_store(url, storage_options=bad_options, backend=backend)
            texts.append(str(info.value))
    with pytest.raises(ValueError, match="contig") as info:
        io.open_store(url, storage_options=options, contig="chr99", backend=backend)
    texts.append(str(info.value))
    with pytest.raises(io.WindowError, match=f"n_sites=110 \\({url}\\)") as info:
        store.read([0], 0, 111)
    texts.append(str(info.value))
    out = capsys.readouterr()
    texts += [out.out, out.err, caplog.text]
    for text in texts:
        assert SECRET not in text
        assert KEY_ID not in text


def _read_in_child(store, queue):
    try:
        queue.put(store.read([9, 2, 17], 40, 70))
    except Exception as exc:
        queue.put(exc)


def _in_child(method, store):
    ctx = multiprocessing.get_context(method)
    queue = ctx.Queue()
    child = ctx.Process(target=_read_in_child, args=(store, queue))
    child.start()
    got = queue.get(timeout=120)
    child.join(60)
    assert child.exitcode == 0
    return got


def test_obstore_worker_copies_read_the_same(s3):
    pytest.importorskip("obstore")
    url, options, local = s3
    store = io.open_store(url, storage_options=options, backend="obstore")
    expected = io.open_store(local).read([9, 2, 17], 40, 70)
    np.testing.assert_array_equal(store.read([9, 2, 17], 40, 70), expected)
    copy = pickle.loads(pickle.dumps(store))
    assert copy.backend == "obstore"
    assert "backend='obstore'" in repr(copy)
    np.testing.assert_array_equal(copy.read([9, 2, 17], 40, 70), expected)
    np.testing.assert_array_equal(_in_child("spawn", store), expected)


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_obstore_refuses_a_forked_worker_instead_of_hanging(s3):
    pytest.importorskip("obstore")
    url, options, _ = s3
    store = io.open_store(url, storage_options=options, backend="obstore")
    got = _in_child("fork", store)
    assert isinstance(got, RuntimeError)
    assert "forkserver" in str(got)
    assert SECRET not in str(got)


def test_backend_values_and_options_are_checked(s3, tmp_path):
    pytest.importorskip("obstore")
    url, options, local = s3
    with pytest.raises(ValueError, match="backend='rust' is not one of 'fsspec', 'obstore'"):
        io.VcfZarrStore(url, storage_options=options, backend="rust")
    with pytest.raises(ValueError, match="backend='obstore' applies to URLs"):
        io.VcfZarrStore(local, backend="obstore")
    with pytest.raises(ValueError, match="backend apply to VCF Zarr stores"):
        io.open_store(tmp_path / "x.h5", backend="obstore")
    with pytest.raises(ValueError, match="s3:// URLs only, not gs://"):
        io.VcfZarrStore("gs://bucket/cohort.vcz", backend="obstore")
    with pytest.raises(ValueError, match="'config_kwargs' is not supported"):
        io.VcfZarrStore(url, storage_options={**options, "config_kwargs": {}}, backend="obstore")
    with pytest.raises(ValueError, match=r"client_kwargs\['verify'\] is not supported"):
        io.VcfZarrStore(
            url,
            storage_options={"client_kwargs": {**options["client_kwargs"], "verify": False}},
            backend="obstore",
        )


def test_obstore_missing_names_the_extra(s3, monkeypatch):
    url, options, _ = s3
    monkeypatch.setitem(sys.modules, "obstore", None)
    with pytest.raises(ImportError, match=r'pip install "maskkit\[s3\]"'):
        io.VcfZarrStore(url, storage_options=options, backend="obstore")
