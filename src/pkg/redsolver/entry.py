"""Reads one request, checks it against the protocol, runs its mode, writes one answer."""
import json
import os
import sys
from typing import Any, cast

from redsolver.pool import use_solv_cache, write_pending_solv_files
from redsolver.protocol import (MODES, PROTOCOL_VERSION, Answer, AuditRequest, CheckRequest, ErrorAnswer, ProtocolError,
                                QueryRequest, RequestError, SolveRequest, WhyRequest, schema_path)
from redsolver.schema import load_schema, validate


def answer_of(mode: str, request: dict[str, Any]) -> Answer:
    """Run the mode. Only its module is imported: a run pays for what it uses. The request was
    validated against the mode's schema: the casts state what that proved."""
    if mode == 'solve':
        from redsolver.solve import solve
        return solve(cast(SolveRequest, request))
    if mode == 'query':
        from redsolver.query import query
        return query(cast(QueryRequest, request))
    if mode == 'check':
        from redsolver.check import check_placement
        return check_placement(cast(CheckRequest, request))
    if mode == 'audit':
        from redsolver.audit import audit
        return audit(cast(AuditRequest, request))
    from redsolver.why import why
    return why(cast(WhyRequest, request))


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


def prepare(mode: str) -> None:
    """Import what `mode` needs (libsolv included) before the request is read: a caller that
    starts the solver ahead of its request (`--prepare MODE`) has it loaded meanwhile."""
    if mode == 'solve':
        import redsolver.solve  # noqa: F401
    elif mode == 'query':
        import redsolver.query  # noqa: F401


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == '--prepare':
        prepare(sys.argv[2])
    elif len(sys.argv) != 1:
        sys.stderr.write('solver: usage: __main__.py [--prepare MODE] < request.json\n')
        return 2
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
        answer = answer_of(mode, request)
    except RequestError as e:
        answer = ErrorAnswer(protocol=PROTOCOL_VERSION, ok=False, error=str(e))
    json.dump(answer, sys.stdout)
    sys.stdout.write('\n')
    sys.stdout.flush()
    # The answer is complete once stdout closes: the caller goes on while the parsed repositories
    # are written to the .solv cache.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    write_pending_solv_files()
    return 0
