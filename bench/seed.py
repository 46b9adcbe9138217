"""A realistic catalog, written straight into a fresh database through the models.

``seed(database_url, images, seed=DEFAULT_SEED)`` (42) drops and recreates the database, brings its
schema up to date with the app's own migrations, and fills it with ``images`` images of 0-20 versions each
(about 5 on average) together with everything the app maintains beside them: the folded
``*_key`` columns, the label rows that filters use, ``version_count``, ``revision``, each
version's ``size_bytes`` and architecture rows, and the catalog state row. The same random seed
gives the same catalog, row for row; image ids run from 1 to ``images``.

Rows go in through each model's own INSERT, compiled once per table by peewee (its columns,
quoting and the defaults of any column the seed does not set), and the driver's executemany,
in chunks, each chunk inside ``db.atomic()``, while worker processes make up the next chunks.
peewee's ``insert_many`` would compile every value in Python, about 10 µs apiece here: about
two minutes of it for 100k images, twenty for 1M. On SQLite the seed also runs without a
journal or fsync and builds the indexes after the rows; the file ends in WAL mode, as the app
runs it.

    python -m bench.seed sqlite:///instance/bench.db 100000
"""

import argparse
import datetime
import multiprocessing
import os
import random
import time
from collections import deque, namedtuple
from contextlib import contextmanager
from dataclasses import dataclass
from math import log
from urllib.parse import urlsplit

from peewee import SqliteDatabase

from bench.databases import check_loopback, create_database
from imagesvc import migrations
from imagesvc.catalog.entries import list_entry
from imagesvc.db import open_database
from imagesvc.models import (
    FRAMEWORK,
    SCOPE,
    CatalogState,
    Image,
    ImageLabel,
    Version,
    VersionArchitecture,
    fold,
)
from imagesvc.schemas import size_in_bytes

# The catalog make bench seeds; bench/workload.py draws its requests from the same one.
DEFAULT_SEED = 42
MAX_VERSIONS = 20
MEAN_VERSIONS = 5.5  # of the exponential whose floor, capped at MAX_VERSIONS, averages about 5
IMAGES_PER_CHUNK = 5000
# Chunks are made up in this many processes while the main one inserts.
WORKER_PROCESSES = 2

# Every time in the catalog falls in the three years before this moment (naive UTC).
NOW = datetime.datetime(2025, 6, 1)
SPAN_SECONDS = 3 * 365 * 24 * 3600
START = NOW - datetime.timedelta(seconds=SPAN_SECONDS)

# Times go to the driver as the text it would make of a naive datetime ("2025-01-15 10:30:00"),
# built from these two tables: ten times faster than datetime arithmetic, and stored the same.
DAYS = [(START + datetime.timedelta(days=day)).strftime("%Y-%m-%d") for day in range(SPAN_SECONDS // 86400 + 1)]
CLOCK = [f"{hour:02d}:{minute:02d}:{second:02d}" for hour in range(24) for minute in range(60) for second in range(60)]


def at(offset_seconds):
    """The catalog time ``offset_seconds`` after START: naive UTC, whole seconds."""
    day, second = divmod(offset_seconds, 86400)
    return f"{DAYS[day]} {CLOCK[second]}"


# purpose: what the framework's images are mostly for, which decides names and scopes.
Framework = namedtuple("Framework", "name slug weight releases purpose")
FRAMEWORKS = (
    Framework("PyTorch", "pytorch", 30, ("1.13.1", "2.0.1", "2.1.2", "2.2.2", "2.3.1", "2.4.1", "2.5.1"), "general"),
    Framework("TensorFlow", "tensorflow", 12, ("2.11.0", "2.12.1", "2.13.1", "2.14.1", "2.15.0", "2.16.2"), "general"),
    Framework("PaddlePaddle", "paddlepaddle", 10, ("2.4.2", "2.5.2", "2.6.1", "3.0.0"), "general"),
    Framework("MindSpore", "mindspore", 7, ("2.0.0", "2.1.1", "2.2.14", "2.3.1", "2.4.0"), "general"),
    Framework("vLLM", "vllm", 8, ("0.4.3", "0.5.5", "0.6.3", "0.6.6"), "infer"),
    Framework("DeepSpeed", "deepspeed", 6, ("0.10.3", "0.12.6", "0.14.4", "0.15.4"), "train"),
    Framework("Transformers", "transformers", 5, ("4.36.2", "4.40.2", "4.44.2", "4.46.3"), "general"),
    Framework("JAX", "jax", 4, ("0.4.13", "0.4.23", "0.4.30", "0.4.35"), "general"),
    Framework("Megatron-LM", "megatron-lm", 3, ("0.5.0", "0.7.0", "0.9.0"), "train"),
    Framework("TensorRT", "tensorrt", 3, ("8.6.1", "10.0.1", "10.3.0"), "infer"),
    Framework("ONNX Runtime", "onnxruntime", 3, ("1.16.3", "1.18.1", "1.20.1"), "infer"),
    Framework("Triton Inference Server", "tritonserver", 2, ("23.10", "24.05", "24.10"), "infer"),
    Framework("SGLang", "sglang", 2, ("0.3.6", "0.4.1"), "infer"),
    Framework("Colossal-AI", "colossalai", 2, ("0.3.6", "0.4.2"), "train"),
    Framework("LLaMA-Factory", "llamafactory", 2, ("0.8.3", "0.9.1"), "train"),
    Framework("Ray", "ray", 2, ("2.9.3", "2.24.0", "2.37.0"), "train"),
    Framework("XGBoost", "xgboost", 1, ("1.7.6", "2.0.3", "2.1.1"), "general"),
    Framework("MXNet", "mxnet", 1, ("1.9.1",), "general"),
)


def draws(weighted):
    """Each value repeated by its weight: a uniform pick from the result is a weighted pick."""
    return tuple(value for value, weight in weighted for _ in range(weight))


FRAMEWORK_DRAWS = draws((framework, framework.weight) for framework in FRAMEWORKS)
COMPANION_DRAWS = tuple(framework.name for framework in FRAMEWORK_DRAWS)
DEFAULT_CHIP_TYPE_DRAWS = draws((("GPU", 14), ("CPU", 3), ("NPU", 3)))
CHIP_TYPE_DRAWS = {
    "MindSpore": draws((("NPU", 18), ("GPU", 1), ("CPU", 1))),  # Huawei's framework, on Ascend
    "XGBoost": draws((("CPU", 7), ("GPU", 3))),
}
CUDA_RELEASES = ("11.8", "12.1", "12.2", "12.4")
CANN_RELEASES = ("7.0", "8.0")
PYTHON_RELEASES = ("3.8", "3.9", "3.10", "3.11", "3.12")
ARCHITECTURE_DRAWS = draws(((["amd64"], 16), (["amd64", "arm64"], 3), (["arm64"], 1)))

# Each scope with the chance an image of each purpose serves it.
SCOPES = ("开发机", "分布式训练", "在线服务部署")
SCOPE_CHANCES = {"general": (0.8, 0.4, 0.3), "train": (0.5, 0.9, 0.1), "infer": (0.3, 0.05, 0.95)}
FOLDED_LABELS = {value: fold(value) for value in (*(framework.name for framework in FRAMEWORKS), *SCOPES)}
PURPOSE_NAMES = {
    "general": ("开发环境", "训练镜像", "Notebook", "推理镜像"),
    "train": ("训练镜像", "分布式训练", "预训练", "微调"),
    "infer": ("推理服务", "在线推理", "大模型推理"),
}
TEAMS = (("视觉算法组", "cv"), ("自然语言处理组", "nlp"), ("语音组", "speech"), ("推荐系统组", "recsys"),
         ("大模型平台组", "llm"), ("自动驾驶组", "autodrive"), ("AI平台组", "platform"), ("科学计算组", "sci"),
         ("多模态组", "multimodal"), ("运维组", "ops"))
REGISTRIES = ("registry.example.com", "harbor.ai.internal:5000", "swr.cn-north-4.myhuaweicloud.com")
DESCRIPTION_EXTRAS = ("预装常用数据处理库。", "适合单机调试与小规模实验。", "已针对多机多卡通信优化。",
                      "内置 Jupyter 与 VS Code Server。", "基于 Ubuntu 22.04 构建。", "")
VERSION_NOTES = ("初始版本", "升级依赖并修复安全漏洞", "更新驱动兼容性", "新增 FlashAttention 支持",
                 "修复 NCCL 多机通信问题", "精简镜像体积", "")
# Sizes as a client sends them, with the bytes the app parses from them.
ACCELERATOR_SIZES = tuple((size, size_in_bytes(size)) for tenths in range(30, 250) for unit in ("GB", "GB", "GiB")
                          for size in [f"{tenths / 10:.1f}{unit}"])
CPU_SIZES = tuple((size, size_in_bytes(size)) for megabytes in range(300, 2000, 7) for size in [f"{megabytes}MB"])
LICENSES = ("Apache-2.0", "BSD-3-Clause", "MIT", None)
STATUS_DRAWS = draws((("online", 12), ("offline", 3), ("pending", 5)))
EDIT_COUNTS = (0, 0, 0, 1, 1, 2, 3)  # status changes and updates after the last version

IMAGE_COLUMNS = (
    Image.id, Image.name, Image.name_key, Image.external_id, Image.external_id_key, Image.frameworks,
    Image.applicable_scopes, Image.chip_type, Image.preset_cuda, Image.description, Image.image_address,
    Image.status, Image.type, Image.icon, Image.introduction, Image.paper_url, Image.code_url, Image.license,
    Image.version_count, Image.revision, Image.create_time, Image.last_update_time, Image.list_entry,
)
LABEL_COLUMNS = (ImageLabel.image, ImageLabel.kind, ImageLabel.key)
VERSION_COLUMNS = (
    Version.id, Version.image, Version.version, Version.version_key, Version.image_address, Version.size,
    Version.size_bytes, Version.python_version, Version.cuda_version, Version.description, Version.architectures,
    Version.create_time,
)
ARCHITECTURE_COLUMNS = (VersionArchitecture.version, VersionArchitecture.image, VersionArchitecture.architecture)
SEEDED_MODELS = (Image, ImageLabel, Version, VersionArchitecture, CatalogState)


@dataclass
class SeedResult:
    images: int
    versions: int
    labels: int
    seconds: float
    # An image with exactly MAX_VERSIONS versions (the versions scenario reads it).
    full_image_id: int


@dataclass(frozen=True)
class ChunkPlan:
    """What one chunk of images must hold; a chunk makes the same rows wherever it is made."""

    seed: int
    index: int
    first_image_id: int
    first_version_id: int
    version_counts: tuple


def plan_chunks(images, seed):
    """The chunks of a catalog of ``images``, with every image's number of versions.

    Drawing the counts first fixes every version id up front, so chunks can be made in any
    process, in any order, and still make the same catalog.
    """
    draw = random.Random(seed).random
    plans, first_version_id = [], 1
    for index, first_image_id in enumerate(range(1, images + 1, IMAGES_PER_CHUNK)):
        count = min(IMAGES_PER_CHUNK, images + 1 - first_image_id)
        # exponential, floored and capped
        counts = tuple(min(MAX_VERSIONS, int(-MEAN_VERSIONS * log(1.0 - draw()))) for _ in range(count))
        plans.append(ChunkPlan(seed, index, first_image_id, first_version_id, counts))
        first_version_id += sum(counts)
    return plans


def full_image_id(plans):
    """The first image with exactly MAX_VERSIONS versions, or None."""
    for plan in plans:
        if MAX_VERSIONS in plan.version_counts:
            return plan.first_image_id + plan.version_counts.index(MAX_VERSIONS)
    return None


class ChunkRows:
    """The rows of one chunk of images, table by table, ready for the driver."""

    def __init__(self):
        self.images, self.labels, self.versions, self.architectures = [], [], [], []
        self.writes = 0  # every create, version and edit these images went through


def make_chunk(plan):
    """The rows of ``plan`` (run in a worker process)."""
    return ChunkGenerator(plan).rows


class ChunkGenerator:
    """Makes up the images of one chunk and their versions.

    It runs for every row of a million-image catalog, so it picks with ``random()`` and an
    index instead of ``choice``/``choices``, and remembers values that repeat (folded version
    strings, JSON lists) instead of computing them again.
    """

    def __init__(self, plan):
        self.random = random.Random(f"{plan.seed}/{plan.index}").random
        self.json_lists = {}
        self.folded_versions = {}
        self.next_version_id = plan.first_version_id
        self.rows = ChunkRows()
        for image_id, version_count in enumerate(plan.version_counts, plan.first_image_id):
            self.add_image(image_id, version_count)

    def pick(self, values):
        return values[int(self.random() * len(values))]

    @staticmethod
    def list_entry(image):
        """The list entry of ``image`` (its values for IMAGE_COLUMNS, as stored), as the app writes it."""
        # The image has every column but the entry itself, the last one.
        columns = zip(IMAGE_COLUMNS[:-1], image, strict=True)
        return list_entry({field.name: field.python_value(value) for field, value in columns})

    def json_list(self, field, values):
        """``field.db_value(values)``, computed once per distinct list."""
        key = (field.name, *values)
        if key not in self.json_lists:
            self.json_lists[key] = field.db_value(values)
        return self.json_lists[key]

    def add_image(self, image_id, version_count):
        random, pick, rows = self.random, self.pick, self.rows
        primary = pick(FRAMEWORK_DRAWS)
        frameworks = [primary.name]
        for chance in (0.45, 0.1):  # a companion or two: PyTorch with DeepSpeed, vLLM with Transformers
            companion = pick(COMPANION_DRAWS)
            if random() < chance and companion not in frameworks:
                frameworks.append(companion)
        chances = SCOPE_CHANCES[primary.purpose]
        scopes = [scope for scope, chance in zip(SCOPES, chances, strict=True) if random() < chance]
        scopes = scopes or [SCOPES[chances.index(max(chances))]]

        release = pick(primary.releases)
        chip_type = pick(CHIP_TYPE_DRAWS.get(primary.name, DEFAULT_CHIP_TYPE_DRAWS))
        cuda = None
        if chip_type == "GPU":
            cuda = pick(CUDA_RELEASES)
            accelerator, tag = f"CUDA {cuda}", "cu" + cuda.replace(".", "")
        elif chip_type == "NPU":
            cann = pick(CANN_RELEASES)
            accelerator, tag = f"Ascend 910B CANN {cann}", "cann" + cann.replace(".", "")
        else:
            accelerator, tag = "CPU", "cpu"
        python = pick(PYTHON_RELEASES)
        team, team_slug = pick(TEAMS)
        form = random()
        if form < 0.5:
            name = f"{primary.name} {release} {accelerator} {pick(PURPOSE_NAMES[primary.purpose])}（{team}）#{image_id}"
        elif form < 0.8:
            name = f"{team_slug}-{primary.slug}{release}-{tag}-{image_id}"
        else:
            name = f"{primary.name} {release} {pick(PURPOSE_NAMES[primary.purpose])} {image_id}"
        external_id = f"{primary.slug}-{release}-{tag}-{image_id:07d}"
        repository = f"{pick(REGISTRIES)}/{team_slug}/{primary.slug}"
        image_address = f"{repository}:{release}-{tag}"
        description = f"{primary.name} {release} 镜像，{accelerator}，Python {python}。{pick(DESCRIPTION_EXTRAS)}"
        introduction = None
        if random() < 0.3:
            introduction = (f"## {name}\n\n{description}\n\n### 使用方法\n\n"
                            f"```bash\ndocker pull {image_address}\npython -c 'import {primary.slug}'\n```\n")

        created = int(random() * SPAN_SECONDS)
        version_times = sorted(created + int(random() * (SPAN_SECONDS - created)) for _ in range(version_count))
        last_update = version_times[-1] if version_times else created
        edits = pick(EDIT_COUNTS)
        if edits:
            last_update += int(random() * (SPAN_SECONDS - last_update))
        revision = 1 + version_count + edits
        rows.writes += revision

        image = (
            image_id, name, fold(name), external_id, fold(external_id),
            self.json_list(Image.frameworks, frameworks), self.json_list(Image.applicable_scopes, scopes),
            chip_type, chip_type == "GPU" and random() < 0.9, description, image_address,
            pick(STATUS_DRAWS), "public" if random() < 0.15 else "custom",
            f"https://static.example.com/icons/{primary.slug}.svg" if random() < 0.6 else None,
            introduction,
            f"https://arxiv.org/abs/{2300 + int(random() * 200)}.{10000 + int(random() * 10000)}"
            if random() < 0.05 else None,
            f"https://github.com/example-ai/{primary.slug}-images" if random() < 0.4 else None,
            pick(LICENSES), version_count, revision, at(created), at(last_update),
        )
        rows.images.append((*image, self.list_entry(image)))
        rows.labels.extend((image_id, FRAMEWORK, FOLDED_LABELS[framework]) for framework in frameworks)
        rows.labels.extend((image_id, SCOPE, FOLDED_LABELS[scope]) for scope in scopes)
        self.add_versions(image_id, repository, f"{release}-{tag}", chip_type, python, cuda, version_times)

    def add_versions(self, image_id, repository, tag, chip_type, python, cuda, version_times):
        random, pick, rows = self.random, self.pick, self.rows
        architectures = ["arm64"] if chip_type == "NPU" else pick(ARCHITECTURE_DRAWS)  # Ascend servers are Arm
        architectures_json = self.json_list(Version.architectures, architectures)
        sizes = CPU_SIZES if chip_type == "CPU" else ACCELERATOR_SIZES
        major, minor, patch = 1, 0, 0
        for created in version_times:
            version = f"v{major}.{minor}.{patch}"
            if version not in self.folded_versions:
                self.folded_versions[version] = fold(version)
            size, size_bytes = pick(sizes)
            version_id = self.next_version_id
            self.next_version_id += 1
            rows.versions.append((
                version_id, image_id, version, self.folded_versions[version], f"{repository}:{tag}-{version}",
                size, size_bytes, python, cuda, pick(VERSION_NOTES), architectures_json, at(created),
            ))
            rows.architectures.extend((version_id, image_id, arch) for arch in architectures)
            step = random()
            if step < 0.7:
                patch += 1
            elif step < 0.95:
                minor, patch = minor + 1, 0
            else:
                major, minor, patch = major + 1, 0, 0


class BulkInsert:
    """One model's INSERT, compiled once by peewee and sent for many rows with executemany."""

    def __init__(self, model, columns):
        # Compiling a row of placeholders also appends any column with a model default that
        # the seed does not set, with its default value: those go on the end of every row.
        self.sql, params = model.insert_many([(None,) * len(columns)], fields=columns).sql()
        self.defaults = tuple(params[len(columns):])
        self.database = model._meta.database

    def __call__(self, rows):
        if self.defaults:
            rows = [row + self.defaults for row in rows]
        self.database.cursor().executemany(self.sql, rows)


def check_disposable(url):
    """Refuse a database the benchmark must not drop: one without "bench" in its name, or a
    MySQL server that is not on loopback."""
    parts = urlsplit(url)
    if "bench" not in os.path.basename(parts.path):
        raise ValueError(f"{url}: the benchmark drops this database, so its name must contain 'bench'")
    if parts.scheme == "mysql":
        check_loopback(url)
    elif parts.scheme != "sqlite":
        raise ValueError(f"{url}: use sqlite:///path or mysql://user@127.0.0.1:3306/name")


def recreate(url):
    """Drop the database ``url`` names, if any, and create it empty."""
    check_disposable(url)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return
    create_database(url)


def open_for_seeding(url):
    """A connection for the seed alone; on SQLite it trades durability for speed until it closes."""
    if url.startswith("sqlite:///"):
        # Nothing survives a crash mid-seed anyway: the next run starts from scratch.
        return SqliteDatabase(url[len("sqlite:///"):], pragmas={
            "journal_mode": "off", "synchronous": "off", "cache_size": -1_000_000, "temp_store": "memory",
            "threads": WORKER_PROCESSES,  # sorts for CREATE INDEX
        })
    return open_database(url)


def made_chunks(plans, processes=WORKER_PROCESSES, ahead=2 * WORKER_PROCESSES):
    """The rows of each plan, in order, made by worker processes while the caller inserts.

    At most ``ahead`` chunks wait in memory, however slow the database.
    """
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        pending = deque()
        for plan in plans:
            pending.append(pool.apply_async(make_chunk, (plan,)))
            if len(pending) >= ahead:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


@contextmanager
def indexes_built_afterwards(database):
    """On SQLite, drop every index and trigger for the load and create them again from their own
    SQL afterwards: one sort per index costs less than inserting into each index row by row. The
    name trigram index (migration 0006), kept by triggers, is then built whole."""
    if not isinstance(database, SqliteDatabase):
        yield
        return
    schema = database.execute_sql("SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')"
                                  " AND sql IS NOT NULL").fetchall()
    for kind, name, _ in schema:
        database.execute_sql(f'DROP {kind.upper()} "{name}"')
    yield
    for _, _, sql in schema:
        database.execute_sql(sql)
    database.execute_sql("INSERT INTO image_name (image_name) VALUES ('rebuild')")


def seed(database_url, images, seed=DEFAULT_SEED):
    """Recreate the database at ``database_url`` and fill it with a catalog of ``images`` images."""
    started = time.perf_counter()
    plans = plan_chunks(images, seed)
    full_id = full_image_id(plans)
    if full_id is None:
        raise ValueError(f"none of {images} images has {MAX_VERSIONS} versions: seed more images")
    recreate(database_url)
    database = open_for_seeding(database_url)
    migrations.upgrade(database)
    versions = labels = writes = 0
    with database.bind_ctx(SEEDED_MODELS):
        insert_images = BulkInsert(Image, IMAGE_COLUMNS)
        insert_labels = BulkInsert(ImageLabel, LABEL_COLUMNS)
        insert_versions = BulkInsert(Version, VERSION_COLUMNS)
        insert_architectures = BulkInsert(VersionArchitecture, ARCHITECTURE_COLUMNS)
        with indexes_built_afterwards(database):
            for rows in made_chunks(plans):
                with database.atomic():
                    insert_images(rows.images)
                    insert_labels(rows.labels)
                    insert_versions(rows.versions)
                    insert_architectures(rows.architectures)
                versions += len(rows.versions)
                labels += len(rows.labels)
                writes += rows.writes
        # The generation moves on from where the migration started it (the clock), so nothing
        # cached by generation for an earlier database is ever taken for this one.
        (CatalogState.update(image_count=images, generation=CatalogState.generation + writes)
         .where(CatalogState.id == CatalogState.ROW).execute())
    if isinstance(database, SqliteDatabase):
        database.execute_sql("PRAGMA journal_mode = wal")  # as the app runs it
        database.close()
    else:
        database.close_all()  # a pool: its idle connections too
    return SeedResult(images=images, versions=versions, labels=labels,
                      seconds=time.perf_counter() - started, full_image_id=full_id)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database_url", help="sqlite:///instance/bench.db or mysql://root@127.0.0.1:3306/imagesvc_bench")
    parser.add_argument("images", type=int, nargs="?", default=100_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    args = parser.parse_args()
    result = seed(args.database_url, args.images, args.seed)
    print(f"seeded {result.images:,} images, {result.versions:,} versions, {result.labels:,} labels "
          f"in {result.seconds:.1f}s")


if __name__ == "__main__":
    main()
