/** Settings of passive (texture) liveness. */
export interface PassiveOptions {
  /**
   * Texture liveness score in ]0,1] at and above which one image's face counts as live. Chosen
   * with `npm run eval:liveness` (see README): a trade between genuine photos refused and
   * recaptured photos accepted, not a protection on its own.
   */
  minScore: number;
}

export const PASSIVE_DEFAULTS: PassiveOptions = { minScore: 0.2 };

/**
 * Texture liveness evidence for one face, in ]0,1], 0 when neither model produced a score: the
 * mean of human's antispoof `real` and liveness `live` scores over those present, floored at
 * 0.001 so that a computed score is never 0.
 *
 * Weak evidence (18% of genuine photos scored `real` below 0.5 and simple fakes did not move it):
 * passive liveness compares it with a low bar ({@link PASSIVE_DEFAULTS}).
 */
export function textureLivenessScore(real: number, live: number): number {
  const scores = [real, live].filter((s) => s > 0);
  if (scores.length === 0) return 0;
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  return Math.min(1, Math.max(0.001, mean));
}
