import { FacevaultError } from "../errors.js";

/** @throws FacevaultError `invalid_argument` unless `classId` is a positive 64-bit number. */
export function requireClassId(classId: bigint): bigint {
  if (classId <= 0n) {
    throw new FacevaultError(
      "invalid_argument",
      `classId must be a positive 64-bit number, got ${classId}`,
      { field: "classId" },
    );
  }
  return classId;
}

export interface TagLimits {
  maxTags: number;
  maxTagLength: number;
}

/**
 * Checks a tag list and returns it without duplicates, in first-seen order.
 * @throws FacevaultError `invalid_argument` naming the offending `tags[i]`.
 */
export function requireTags(tags: readonly string[], limits: TagLimits, field = "tags"): string[] {
  if (tags.length > limits.maxTags) {
    throw new FacevaultError(
      "invalid_argument",
      `${field} has ${tags.length} entries; at most ${limits.maxTags} are allowed`,
      { field },
    );
  }
  tags.forEach((tag, i) => {
    const where = `${field}[${i}]`;
    if (tag.length === 0) {
      throw new FacevaultError("invalid_argument", `${where} must not be empty`, { field: where });
    }
    if (tag.length > limits.maxTagLength) {
      throw new FacevaultError(
        "invalid_argument",
        `${where} is longer than ${limits.maxTagLength} characters`,
        { field: where },
      );
    }
    if (/\p{Cc}/u.test(tag)) {
      throw new FacevaultError("invalid_argument", `${where} contains control characters`, {
        field: where,
      });
    }
  });
  return [...new Set(tags)];
}

/**
 * @throws FacevaultError `invalid_argument` when a call carries more images than allowed, or
 *   none where at least one is needed.
 */
export function requireImageCount(
  count: number,
  max: number,
  options: { allowEmpty: boolean },
  field = "images",
): void {
  if (count === 0 && !options.allowEmpty) {
    throw new FacevaultError("invalid_argument", `${field}: at least one image is needed`, {
      field,
    });
  }
  if (count > max) {
    throw new FacevaultError(
      "invalid_argument",
      `${field}: ${count} images sent; at most ${max} are accepted per call`,
      { field },
    );
  }
}
