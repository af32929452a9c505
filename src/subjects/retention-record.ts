/**
 * The destruction record a retention purge writes in its own statement (src/subjects/destruction.ts
 * says what a record holds): a CTE to append to the purge's `WITH`, reading the number of rows
 * destroyed from `count` of the CTE `from`, and writing nothing when it is 0. Only constants of the
 * calling code go into it, never a value from outside. A leaf module: the purges of events, links
 * and guardians import it without importing the subjects feature.
 */
export function retentionRecordCte(opts: { from: string; count: string; category: string; reason: string }): string {
  const { from, count, category, reason } = opts
  return `recorded AS (
       INSERT INTO destruction_records (basis, actor_kind, actor_id, reason, categories, total)
       SELECT 'retention', 'system', 'housekeeping', '${reason}',
              jsonb_build_array(jsonb_build_object('category', '${category}', 'action', 'deleted', 'count', ${count})), ${count}
       FROM ${from} WHERE ${count} > 0)`
}
