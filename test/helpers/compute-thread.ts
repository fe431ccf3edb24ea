// The compute thread a pooled session's statement runs on, for tests that check which
// compute connection a client was lent. Pooled, the proxy answers a bare SELECT
// CONNECTION_ID() with the session's id and refuses other uses of CONNECTION_ID() and
// of @@pseudo_thread_id (README, "Connection ids and KILL"); it does not rewrite the
// values information_schema.SESSION_VARIABLES lists, where pseudo_thread_id is the
// compute connection's own id.

/** An expression: the compute thread running the statement (BIGINT UNSIGNED). */
export const COMPUTE_THREAD_EXPR = "(SELECT CAST(VARIABLE_VALUE AS UNSIGNED) FROM information_schema.SESSION_VARIABLES WHERE VARIABLE_NAME = 'PSEUDO_THREAD_ID')";

/** A statement whose one row's `id` is the compute thread running it. */
export const COMPUTE_THREAD = `SELECT ${COMPUTE_THREAD_EXPR} AS id`;
