/**
 * Texture liveness evidence for one face, in ]0,1], 0 when neither model produced a score: the
 * mean of human's antispoof `real` and liveness `live` scores over those present, floored at
 * 0.001 so that a computed score is never 0.
 *
 * Unvalidated (18% of genuine photos scored `real` below 0.5 and simple fakes did not move it):
 * report it, never reject on it. Motion liveness needs several frames and stays 0.
 */
export function textureLivenessScore(real: number, live: number): number {
  const scores = [real, live].filter((s) => s > 0);
  if (scores.length === 0) return 0;
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  return Math.min(1, Math.max(0.001, mean));
}
