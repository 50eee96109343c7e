"""A JSON Schema (draft-07) validator for the subset of keywords the protocol's schemas use. A
schema using any other keyword is refused when loaded, so a schema change cannot silently go
unchecked on this side (ajv checks the full language on the TypeScript side)."""
import json
from typing import Any, Callable, Union

JsonValue = Union[None, bool, int, float, str, list[Any], dict[str, Any]]
Schema = dict[str, Any]

# Keywords that only describe.
ANNOTATIONS = frozenset(('$schema', '$id', 'title', 'description', 'definitions', '$comment'))
CHECKED = frozenset(('type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const',
                     'anyOf', '$ref', 'minimum'))

TYPE_TESTS: dict[str, Callable[[object], bool]] = {
    'object': lambda v: isinstance(v, dict),
    'array': lambda v: isinstance(v, list),
    'string': lambda v: isinstance(v, str),
    'integer': lambda v: isinstance(v, int) and not isinstance(v, bool),
    'number': lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    'boolean': lambda v: isinstance(v, bool),
    'null': lambda v: v is None,
}


class SchemaError(Exception):
    """The schema itself uses something this validator does not check."""


def load_schema(path: str) -> Schema:
    with open(path, encoding='utf-8') as f:
        schema: Schema = json.load(f)
    check_keywords(schema, path)
    return schema


def check_keywords(schema: Schema, where: str) -> None:
    unknown = set(schema) - ANNOTATIONS - CHECKED
    if unknown:
        raise SchemaError('%s: keyword(s) %s not supported by the solver\'s validator'
                          % (where, ', '.join(sorted(unknown))))
    for name, sub in schema.get('definitions', {}).items():
        check_keywords(sub, '%s#/definitions/%s' % (where, name))
    for name, sub in schema.get('properties', {}).items():
        check_keywords(sub, '%s.%s' % (where, name))
    for key in ('items', 'additionalProperties'):
        if isinstance(schema.get(key), dict):
            check_keywords(schema[key], '%s/%s' % (where, key))
    for i, sub in enumerate(schema.get('anyOf', [])):
        check_keywords(sub, '%s/anyOf/%d' % (where, i))


def validate(value: object, root: Schema) -> list[str]:
    """Every place where `value` does not match `root`, as 'path: what is wrong'."""
    errors: list[str] = []
    _check(value, root, root, '', errors)
    return errors


def _check(value: object, schema: Schema, root: Schema, path: str, errors: list[str]) -> None:
    here = path or '/'
    if '$ref' in schema:
        ref: str = schema['$ref']
        if not ref.startswith('#/definitions/'):
            raise SchemaError('only local references to #/definitions/ are supported, not %s' % ref)
        _check(value, root['definitions'][ref[len('#/definitions/'):]], root, path, errors)
        return
    types = schema.get('type')
    if types is not None:
        names = types if isinstance(types, list) else [types]
        if not any(TYPE_TESTS[t](value) for t in names):
            errors.append('%s: must be %s' % (here, ' or '.join(names)))
            return
    if 'const' in schema and value != schema['const']:
        errors.append('%s: must be %s' % (here, json.dumps(schema['const'])))
    if 'enum' in schema and value not in schema['enum']:
        errors.append('%s: must be one of %s' % (here, ', '.join(json.dumps(e) for e in schema['enum'])))
    if 'minimum' in schema and isinstance(value, (int, float)) and value < schema['minimum']:
        errors.append('%s: must be >= %s' % (here, schema['minimum']))
    if 'anyOf' in schema:
        if not any(not validate_sub(value, sub, root, path) for sub in schema['anyOf']):
            errors.append('%s: matches none of the allowed forms' % here)
    if isinstance(value, dict):
        _check_object(value, schema, root, path, errors)
    if isinstance(value, list) and 'items' in schema:
        for i, item in enumerate(value):
            _check(item, schema['items'], root, '%s/%d' % (path, i), errors)


def validate_sub(value: object, schema: Schema, root: Schema, path: str) -> list[str]:
    errors: list[str] = []
    _check(value, schema, root, path, errors)
    return errors


def _check_object(value: dict[str, Any], schema: Schema, root: Schema, path: str, errors: list[str]) -> None:
    for key in schema.get('required', []):
        if key not in value:
            errors.append('%s: missing required property %s' % (path or '/', key))
    properties: dict[str, Schema] = schema.get('properties', {})
    extra = schema.get('additionalProperties', True)
    for key, item in value.items():
        if key in properties:
            _check(item, properties[key], root, '%s/%s' % (path, key), errors)
        elif extra is False:
            errors.append('%s: unexpected property %s' % (path or '/', key))
        elif isinstance(extra, dict):
            _check(item, extra, root, '%s/%s' % (path, key), errors)
