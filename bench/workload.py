"""The request streams of the console scenarios: ``browse``, ``console_mix`` and ``live_mix``.

Each stream is drawn in Python from ``random.Random`` with a fixed seed, written to one file per
wrk thread, and replayed line by line by bench/lua/stream.lua. Every (scenario, phase, thread)
has its own generator, seeded ``"<WORKLOAD_SEED>/<scenario>/<phase>/<thread>"``, so

- the same run sends the same requests in the same order, on either backend;
- the wrk threads do not replay one sequence in lockstep, and the measured run does not repeat
  what its warm-up sent (which would find it in the response cache);
- a longer run sends more of the same stream: a file holds enough lines for REQUESTS_PER_SECOND
  over the run (and starts again from the top if a run outpaces it, which the report says).

The mixes, each request drawn independently:

- ``browse``: lists only, as the console sends them: every filter parameter present, the unused
  ones empty (``name=&framework=PyTorch&chipType=&...``). Each filter is set independently with
  the chance in FILTER_CHANCES, its value drawn with realistic weights from what bench/seed.py
  puts in the catalog (frameworks by their weight there, GPU more than NPU or CPU, online more
  than pending, names searched for the words they are made of, now and then a typo or an image
  number); no filter at all about one time in ten. Page size 10, 20 or 50; page 1 most of the
  time, pages 2-20 less and less often, now and then a deep page beyond the 20th; sortBy/order
  set one time in seven. A page never lies beyond the last one of its query, as estimated from
  a sample of the seeded catalog (its first images, made again with the seed's own generator).
- ``console_mix``: 55% such lists, 30% details of images drawn uniformly from the whole catalog,
  15% version lists of such images.
- ``live_mix``: ``console_mix`` (90%) with 10% writes: 5% status changes (to one of the three
  statuses at random, so two in three change it) and 5% new versions of random images, named by
  stream.lua ``bench-<run>-<thread>-<n>`` with a run token drawn afresh for every wrk run. Every
  write moves the catalog's generation, so caches keyed by it keep going cold.

``python -m bench.workload [images]`` prints what a 10-second stream holds.
"""

import argparse
import functools
import math
import operator
import os
import random
from collections import Counter
from urllib.parse import quote

from bench.seed import (
    CUDA_RELEASES,
    DEFAULT_SEED,
    FRAMEWORKS,
    IMAGES_PER_CHUNK,
    PYTHON_RELEASES,
    SCOPES,
    draws,
    make_chunk,
    plan_chunks,
)
from imagesvc.models import FRAMEWORK, SCOPE, fold

WORKLOAD_SEED = 13
# A stream file holds this many requests per second of the run, over all threads: more than any
# of the mixes serves on a 2-core machine, so the stream does not start over within a run.
REQUESTS_PER_SECOND = 4000
# Images of the seeded catalog made again to estimate how many images a query matches.
SAMPLE_IMAGES = 20_000

MIXES = {
    "browse": (("list", 1.0),),
    "console_mix": (("list", 0.55), ("detail", 0.30), ("versions", 0.15)),
    "live_mix": (("list", 0.495), ("detail", 0.27), ("versions", 0.135), ("status", 0.05), ("new_version", 0.05)),
}

# The console's query string: every parameter, in this order, the unused ones empty.
PARAMETERS = ("pageNo", "pageSize", "name", "framework", "chipType", "applicableScope", "status", "type",
              "pythonVersion", "cudaVersion", "architecture", "sortBy", "order")
# The chance each filter is set, independently of the others: none at all about one time in ten.
FILTER_CHANCES = {"framework": 0.40, "chipType": 0.30, "applicableScope": 0.25, "status": 0.30, "name": 0.20,
                  "type": 0.08, "pythonVersion": 0.12, "cudaVersion": 0.10, "architecture": 0.05}
# Frameworks as often as the catalog holds them, with a floor so the rare ones come up too.
FRAMEWORK_VALUES = draws((framework.name, framework.weight + 2) for framework in FRAMEWORKS)
CHIP_TYPE_VALUES = draws((("GPU", 6), ("NPU", 2), ("CPU", 2)))
STATUS_VALUES = draws((("online", 6), ("offline", 2), ("pending", 2)))
TYPE_VALUES = draws((("custom", 1), ("public", 1)))
ARCHITECTURE_VALUES = draws((("amd64", 3), ("arm64", 2)))
# A CUDA filter is a release, or one time in five only its major ("12" matches 12.1, 12.4).
CUDA_VALUES = draws((release, 4) for release in CUDA_RELEASES) + ("12", "11", "12", "12")
# What operators type in the name box: the words seeded names are made of (bench/seed.py),
# in any case, 2-character Chinese words too; an image number (NAME_NUMBER_CHANCE); typos.
NAME_TERMS = draws((
    ("torch", 10), ("pytorch", 5), ("PyTorch", 3), ("tensorflow", 4), ("paddle", 4), ("vllm", 4),
    ("mindspore", 3), ("deepspeed", 2), ("transformers", 2), ("jax", 1), ("megatron", 1), ("tensorrt", 1),
    ("onnx", 1), ("triton", 1), ("sglang", 1), ("llama", 1), ("xgboost", 1), ("ray", 1),
    ("推理", 4), ("训练镜像", 3), ("开发环境", 3), ("微调", 2), ("大模型推理", 2), ("预训练", 1), ("分布式训练", 2),
    ("在线推理", 1), ("notebook", 2),
    ("视觉算法组", 2), ("nlp", 2), ("llm", 2), ("多模态", 1), ("speech", 1), ("recsys", 1), ("autodrive", 1),
    ("运维组", 1),
    ("cu124", 2), ("cu121", 2), ("CUDA 12.1", 1), ("cann80", 1), ("Ascend", 1), ("cpu", 1),
    ("2.5.1", 2), ("2.4", 1), ("0.6", 1),
    ("pytroch", 1), ("tensorflwo", 1),
))
NAME_NUMBER_CHANCE = 0.08
PAGE_SIZES = draws(((10, 12), (20, 5), (50, 3)))
FIRST_PAGE_CHANCE = 0.60
DEEP_PAGE_CHANCE = 0.06  # a page beyond the 20th, uniformly up to the last
NEAR_PAGES = draws((page, round(60 / page)) for page in range(2, 21))  # 2-20, each as likely as 1/page
SORT_CHANCE = 0.15
SORT_BY_VALUES = draws((("createTime", 4), ("name", 3), ("lastUpdateTime", 3)))
ORDER_VALUES = ("desc", "asc")
STATUS_CHANGES = ("online", "offline", "pending")


def duration_seconds(duration):
    """Seconds in a wrk duration: 10s, 90s, 2m, 1h, 10."""
    value = int(duration.rstrip("smh"))
    return value * {"m": 60, "h": 3600}.get(duration[-1], 1)


class CatalogSample:
    """The first images of the catalog bench/seed.py makes, as bitmaps (a Python int per value,
    bit i for the i-th image) of every value a filter tests: how many images a query matches,
    scaled up to the whole catalog, tells how far it pages."""

    def __init__(self, images, seed=DEFAULT_SEED, size=SAMPLE_IMAGES):
        self.images = images
        self.facets, self.names, self.terms = {}, [], {}
        for plan in plan_chunks(images, seed)[:math.ceil(min(size, images) / IMAGES_PER_CHUNK)]:
            self._add(make_chunk(plan))
        self.size = len(self.names)

    def _set(self, facet, value, image_id):
        key = (facet, value)
        self.facets[key] = self.facets.get(key, 0) | 1 << (image_id - 1)

    def _add(self, rows):
        for row in rows.images:
            image_id, name_key, chip_type, status, image_type = row[0], row[2], row[7], row[11], row[12]
            self.names.append(name_key)
            self._set("chipType", chip_type, image_id)
            self._set("status", status, image_id)
            self._set("type", image_type, image_id)
        for image_id, kind, key in rows.labels:
            self._set({FRAMEWORK: "framework", SCOPE: "applicableScope"}[kind], key, image_id)
        for row in rows.versions:
            image_id, python, cuda = row[1], row[7], row[8]
            if python:
                self._set("pythonVersion", python, image_id)
            if cuda:
                self._set("cudaVersion", cuda, image_id)
        for _, image_id, architecture in rows.architectures:
            self._set("architecture", architecture, image_id)

    def matching(self, facet, value):
        """The bitmap of the images that ``facet=value`` matches, as the app reads the filter."""
        if facet == "name":
            term = fold(value)
            if term not in self.terms:
                self.terms[term] = sum(1 << index for index, name in enumerate(self.names) if term in name)
            return self.terms[term]
        if facet in ("framework", "applicableScope"):
            return self.facets.get((facet, fold(value)), 0)
        if facet in ("pythonVersion", "cudaVersion"):  # the release, or a more precise one
            key = (facet, "prefix", value)
            if key not in self.terms:
                self.terms[key] = functools.reduce(operator.or_, (
                    bits for (name, release), bits in self.facets.items()
                    if name == facet and (release == value or release.startswith(value + "."))), 0)
            return self.terms[key]
        return self.facets.get((facet, value), 0)

    def estimated_total(self, filters):
        matches = (1 << self.size) - 1
        for facet, value in filters.items():
            matches &= self.matching(facet, value)
        return round(matches.bit_count() * self.images / self.size)


class Generator:
    """Draws the requests of one mix over a catalog of ``images`` images from ``rng``.

    Every request takes the same number of draws from ``rng`` whatever the catalog's size, so
    streams for 10k and 1M images ask the same queries, only for other ids and deep pages.
    """

    def __init__(self, mix, sample, rng):
        self.kinds = MIXES[mix]
        self.sample = sample
        self.images = sample.images
        self.random = rng.random

    def pick(self, values):
        return values[int(self.random() * len(values))]

    def image_id(self):
        return 1 + int(self.random() * self.images)

    def kind(self, draw):
        """The kind of request whose share of the mix ``draw`` (0 to 1) falls in."""
        for kind, share in self.kinds:
            draw -= share
            if draw < 0:
                return kind
        return self.kinds[-1][0]

    def line(self):
        """One request: ``METHOD PATH [BODY]``; a POST of a version has its body made by stream.lua."""
        kind = self.kind(self.random())
        image_id = self.image_id()  # drawn for every kind, to keep the draws per request fixed
        if kind == "list":
            return "GET " + self.list_path()
        if kind == "detail":
            return f"GET /api/images/{image_id}"
        if kind == "versions":
            return f"GET /api/images/{image_id}/versions"
        if kind == "status":
            return f'PUT /api/images/{image_id}/status {{"status": "{self.pick(STATUS_CHANGES)}"}}'
        return f"POST /api/images/{image_id}/versions"

    def filters(self):
        chances, pick, draw = FILTER_CHANCES, self.pick, self.random
        values = {
            "framework": pick(FRAMEWORK_VALUES),
            "chipType": pick(CHIP_TYPE_VALUES),
            "applicableScope": pick(SCOPES),
            "status": pick(STATUS_VALUES),
            "name": pick(NAME_TERMS),
            "type": pick(TYPE_VALUES),
            "pythonVersion": pick(PYTHON_RELEASES),
            "cudaVersion": pick(CUDA_VALUES),
            "architecture": pick(ARCHITECTURE_VALUES),
        }
        number = self.image_id()
        if draw() < NAME_NUMBER_CHANCE:  # the number at the end of most seeded names
            values["name"] = str(number)
        filters = {facet: value for facet, value in values.items() if draw() < chances[facet]}
        if filters.get("chipType") in ("CPU", "NPU"):
            filters.pop("cudaVersion", None)  # the console offers CUDA versions for GPUs only
        return filters

    def list_query(self):
        """The parameters of one list request, with the number of images it matches (estimated)."""
        filters = self.filters()
        page_size = self.pick(PAGE_SIZES)
        where, near, deep = self.random(), self.pick(NEAR_PAGES), self.random()
        sort = self.random() < SORT_CHANCE
        sort_by, order = self.pick(SORT_BY_VALUES), self.pick(ORDER_VALUES)

        total = self.sample.estimated_total(filters)
        last_page = max(1, math.ceil(total / page_size))
        if where < FIRST_PAGE_CHANCE:
            page = 1
        elif where < 1 - DEEP_PAGE_CHANCE or last_page <= 20:
            page = min(near, last_page)
        else:
            page = 21 + int(deep * (last_page - 20))
        query = {**filters, "pageNo": page, "pageSize": page_size}
        if sort:
            query.update(sortBy=sort_by, order=order)
        return query, total

    def list_path(self):
        query, _ = self.list_query()
        return "/api/images?" + "&".join(f"{name}={quote(str(query.get(name, '')), safe='')}"
                                         for name in PARAMETERS)


class Streams:
    """The request files of one scenario, one per (phase, wrk thread), and what they hold."""

    def __init__(self, mix, sample, directory, seconds_by_phase, threads, seed=WORKLOAD_SEED):
        self.mix = mix
        self.seed = seed
        self.directory = directory
        self.lines = {}
        os.makedirs(directory, exist_ok=True)
        for phase, seconds in seconds_by_phase.items():
            count = math.ceil(REQUESTS_PER_SECOND * seconds / threads)
            self.lines[phase] = []
            for thread in range(1, threads + 1):
                generator = Generator(mix, sample, random.Random(f"{seed}/{mix}/{phase}/{thread}"))
                lines = [generator.line() for _ in range(count)]
                with open(f"{self.prefix(phase)}-{thread}.txt", "w") as out:
                    out.write("\n".join(lines) + "\n")
                self.lines[phase].append(lines)

    def prefix(self, phase):
        """What stream.lua is given: it reads ``<prefix>-<thread>.txt``."""
        return os.path.join(self.directory, f"{self.mix}-{phase}")

    def sent(self, phase, sent_by_thread):
        """The lines each thread sent (or made ready: the last few may not have been answered)."""
        sent = []
        for lines, count in zip(self.lines[phase], sent_by_thread, strict=True):
            sent.extend(lines * (count // len(lines)) + lines[:count % len(lines)])
        return sent

    def describe(self, phase, sent_by_thread):
        """What a run of ``sent_by_thread`` requests per thread sent: requests of each kind,
        distinct list queries and distinct images."""
        return describe_lines(self.sent(phase, sent_by_thread))


def kind_of(line):
    method, path = line.split(" ", 2)[:2]
    if path.startswith("/api/images?"):
        return "list"
    if method == "PUT":
        return "status"
    if method == "POST":
        return "new_version"
    return "versions" if path.endswith("/versions") else "detail"


def describe_lines(lines):
    kinds = Counter(kind_of(line) for line in lines)
    lists = [line for line in lines if kind_of(line) == "list"]
    images = {line.split(" ")[1].split("/")[3] for line in lines if kind_of(line) != "list"}
    return {"requests": len(lines), "kinds": dict(kinds), "distinct_lists": len(set(lists)),
            "distinct_images": len(images)}


def summary(description):
    """One line from describe(): "6,120 lists over 5,702 distinct queries; 3,010 details; ..."."""
    kinds = description["kinds"]
    parts = []
    if kinds.get("list"):
        parts.append(f"{kinds['list']:,} lists over {description['distinct_lists']:,} distinct queries")
    others = [f"{kinds[kind]:,} {label}" for kind, label in (
        ("detail", "details"), ("versions", "version lists"), ("status", "status changes"),
        ("new_version", "new versions")) if kinds.get(kind)]
    if others:
        parts.append(", ".join(others) + f" of {description['distinct_images']:,} distinct images")
    return "; ".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", type=int, nargs="?", default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    sample = CatalogSample(args.images)
    count = math.ceil(REQUESTS_PER_SECOND * args.seconds / 2)
    print(f"{args.images:,} images, seed {WORKLOAD_SEED}, {count:,} requests in the stream of one of two threads")
    for mix in MIXES:
        generator = Generator(mix, sample, random.Random(f"{WORKLOAD_SEED}/{mix}/measured/1"))
        print(f"{mix}: {summary(describe_lines([generator.line() for _ in range(count)]))}")

    generator = Generator("browse", sample, random.Random(f"{WORKLOAD_SEED}/browse/measured/1"))
    queries = [generator.list_query() for _ in range(count)]

    def shares(counter):
        return ", ".join(f"{key}: {value / count:.1%}" for key, value in counter.items())

    print("browse, share of queries by")
    print("  filters set:", shares(Counter(sorted(len(set(q) & set(FILTER_CHANCES)) for q, _ in queries))))
    print("  each filter:", shares(Counter(f for q, _ in queries for f in FILTER_CHANCES if f in q)))
    print("  page size:", shares(Counter(sorted(q["pageSize"] for q, _ in queries))))
    print("  page:", shares(Counter("1" if q["pageNo"] == 1 else "2-20" if q["pageNo"] <= 20 else "21+"
                                    for q, _ in queries)))
    print("  sorted:", shares(Counter(q.get("sortBy", "default") for q, _ in queries)))
    bands = ((0, "0"), (100, "1-100"), (1000, "101-1k"), (10_000, "1k-10k"), (math.inf, "over 10k"))
    print("  images matched (estimated):",
          shares(Counter(next(label for limit, label in bands if total <= limit) for _, total in sorted(
              queries, key=lambda query: query[1]))))


if __name__ == "__main__":
    main()
