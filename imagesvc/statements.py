"""Statements compiled once.

peewee builds a query's SQL anew every time it runs it, which costs more than running it for
the few statements every request makes: the token by its hash, an image by id, the catalog
state, a page of rows by id. A ``Statement`` is such a query, built once per backend with a
``param`` where each value goes, then run with peewee's public API alone: ``Query.sql()``,
``Database.execute_sql()``, and each row made a model instance from its selected columns'
``python_value``. What it buys is measured in bench/README.md.
"""

from peewee import ForeignKeyField, Value

from .db import db


class _Param:
    __slots__ = ("field", "name")

    def __init__(self, field, name):
        self.field, self.name = field, name


def param(field, name=None):
    """Where a value of ``field`` goes, filled from the value called ``name`` (the field's name
    unless given), converted as the field converts what it stores."""
    return Value(_Param(field, name or field.name), converter=False)


class Statement:
    """A query built by ``build()`` once per backend, run with values for its ``param``s."""

    def __init__(self, build):
        self.build = build
        self._compiled = {}

    def _for_backend(self):
        """The query, its SQL and its parameters, built once for the bound backend."""
        backend = type(db.obj)
        if backend not in self._compiled:
            query = self.build()
            self._compiled[backend] = (query, *query.sql())
        return self._compiled[backend]

    def _bind(self, values):
        query, sql, params = self._for_backend()
        bound = [param.field.db_value(values[param.name]) if isinstance(param, _Param) else param
                 for param in params]
        return query, sql, bound

    def execute(self, **values):
        """Run it; the cursor."""
        _, sql, bound = self._bind(values)
        return db.execute_sql(sql, bound)

    def dicts(self, **values):
        """Run a SELECT; its rows as dicts of the selected fields' values, converted as the
        fields convert what they read."""
        query, sql, bound = self._bind(values)
        fields = query.selected_columns
        return [{field.name: field.python_value(value) for field, value in zip(fields, row, strict=True)}
                for row in db.execute_sql(sql, bound).fetchall()]

    def rows(self, **values):
        """Run a SELECT; its rows as model instances (``Model.raw`` would resolve the columns
        anew on every run, which costs twice what this does)."""
        model = self._for_backend()[0].model
        return [model(**row) for row in self.dicts(**values)]

    def first(self, **values):
        """Run a SELECT; its first row as a model instance, or None."""
        rows = self.rows(**values)
        return rows[0] if rows else None


_updates = {}


def update(instance, *fields):
    """UPDATE ``fields`` of ``instance``, found by its primary key: what ``save(only=fields)``
    does, compiled once per model and fields (building it was half of a new version's time)."""
    model = type(instance)
    key = model._meta.primary_key
    if (model, fields) not in _updates:
        _updates[model, fields] = Statement(
            lambda: model.update({field: param(field) for field in fields}).where(key == param(key)))
    values = {field.name: getattr(instance, _stored(field)) for field in (*fields, key)}
    return _updates[model, fields].execute(**values)


_inserts = {}


def insert(instance):
    """INSERT ``instance``, every field but its auto-incremented key, which it is given: what
    ``save(force_insert=True)`` does, compiled once per model (building it was a ninth of a new
    image's or version's time). Every field is a parameter, so no default is frozen into it."""
    model = type(instance)
    key = model._meta.primary_key
    fields = tuple(field for field in model._meta.sorted_fields if field is not key)
    if model not in _inserts:
        _inserts[model] = Statement(lambda: model.insert({field: param(field) for field in fields}))
    cursor = _inserts[model].execute(**{field.name: getattr(instance, _stored(field)) for field in fields})
    setattr(instance, key.name, db.last_insert_id(cursor))


def _stored(field):
    """The attribute holding the value of ``field`` as stored: a foreign key's id, not the row it
    points to (reading that would query for it)."""
    return field.object_id_name if isinstance(field, ForeignKeyField) else field.name


_row_inserts = {}


def insert_rows(fields, rows):
    """INSERT ``rows``, tuples of values of ``fields`` (of one model): what ``insert_many`` does,
    compiled once per fields and number of rows (an image's labels, a version's architectures)."""
    if not rows:
        return
    if (fields, len(rows)) not in _row_inserts:
        _row_inserts[fields, len(rows)] = Statement(lambda: fields[0].model.insert_many(
            [[param(field, f"{field.name}{n}") for field in fields] for n in range(len(rows))], fields=list(fields)))
    _row_inserts[fields, len(rows)].execute(
        **{f"{field.name}{n}": value for n, row in enumerate(rows) for field, value in zip(fields, row, strict=True)})
