"""Reads one request, checks it against the protocol, runs its mode, writes one answer."""
import json
import sys
from typing import Any, Callable, cast

from redsolver.audit import audit
from redsolver.check import check_placement
from redsolver.pool import use_solv_cache
from redsolver.protocol import (MODES, PROTOCOL_VERSION, Answer, AuditRequest, CheckRequest, ErrorAnswer, ProtocolError,
                                QueryRequest, RequestError, SolveRequest, WhyRequest, schema_path)
from redsolver.query import query
from redsolver.schema import load_schema, validate
from redsolver.solve import solve
from redsolver.why import why

# The request was validated against the mode's schema: the casts state what that proved.
HANDLERS: dict[str, Callable[[Any], Answer]] = {
    'solve': lambda r: solve(cast(SolveRequest, r)),
    'query': lambda r: query(cast(QueryRequest, r)),
    'check': lambda r: check_placement(cast(CheckRequest, r)),
    'audit': lambda r: audit(cast(AuditRequest, r)),
    'why': lambda r: why(cast(WhyRequest, r)),
}


def checked_request(raw: object) -> tuple[str, dict[str, Any]]:
    """The request's mode and the request, once its version, mode and shape are the protocol's."""
    if not isinstance(raw, dict):
        raise ProtocolError('the request is not a JSON object')
    request = cast(dict[str, Any], raw)
    version = request.get('protocol')
    if version != PROTOCOL_VERSION:
        raise ProtocolError('solver protocol version %s is not supported (this solver speaks version %d)'
                            % (json.dumps(version), PROTOCOL_VERSION))
    mode = request.get('mode')
    if not isinstance(mode, str) or mode not in MODES:
        raise ProtocolError('unknown solver mode %s (known: %s)' % (json.dumps(mode), ', '.join(MODES)))
    errors = validate(request, load_schema(schema_path(mode + '.request')))
    if errors:
        raise ProtocolError('malformed %s request: %s' % (mode, '; '.join(errors)))
    return mode, request


def main() -> int:
    try:
        mode, request = checked_request(json.load(sys.stdin))
    except ValueError as e:  # json.JSONDecodeError included
        sys.stderr.write('solver: the request is not JSON: %s\n' % e)
        return 2
    except ProtocolError as e:
        sys.stderr.write('solver: %s\n' % e)
        return 2
    use_solv_cache(request.get('solvCache'))
    try:
        answer = HANDLERS[mode](request)
    except RequestError as e:
        answer = ErrorAnswer(protocol=PROTOCOL_VERSION, ok=False, error=str(e))
    json.dump(answer, sys.stdout)
    sys.stdout.write('\n')
    return 0
