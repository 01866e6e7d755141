/**
 * A new search snapshot's id: random (53 bits), so that two processes writing a snapshot of one
 * partition at the same time never pick the same and their chunks never mix. Not a secret.
 */
export function newSnapshotId(): number {
  return Math.floor(Math.random() * Number.MAX_SAFE_INTEGER);
}
