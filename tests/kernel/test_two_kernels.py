"""Two kernels at once: each has its own output folder; neither deletes the other's results."""

from pathlib import Path

from kernel_client import Kernel


def test_two_kernels_never_delete_each_others_results():
    a, b = Kernel(), Kernel()
    try:
        dir_a, dir_b = a.value("OUTPUT_DIR"), b.value("OUTPUT_DIR")
        assert dir_a != dir_b
        assert a.run("spark.range(5).write.parquet(OUTPUT_DIR + '/result.parquet')").status == "ok"
        assert b.run("spark.range(2).write.parquet(OUTPUT_DIR + '/result.parquet')").status == "ok"
        assert b.run("x = 1").status == "ok"  # b empties its own folder before this cell
        # checked from outside: any cell in `a` would first empty a's own folder, by design
        assert (Path(dir_a) / "result.parquet").is_dir()
        assert any(p.suffix == ".parquet" for p in (Path(dir_a) / "result.parquet").iterdir())
    finally:
        a.shutdown()
        b.shutdown()
