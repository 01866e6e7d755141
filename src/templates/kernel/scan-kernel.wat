;; The search scan: int8 template codes against an int16 probe, with WebAssembly SIMD.
;; Assembled by `npm run generate:wasm` (wabt from npm) into scan-kernel-wasm.ts; never edit that
;; file by hand. Row layout and the bound are explained in ../quantized-rows.ts.
(module
  ;; Shared, so that scan threads (../scan-threads.ts) read the same rows as the owning thread.
  (import "env" "memory" (memory 1 65536 shared))
  ;; Address one past the last (row, dot) pair `scan` wrote.
  (global $written (export "written") (mut i32) (i32.const 0))

  ;; Writes the pair (row, dot) at `out` when the row whose metadata is at `meta` (see `scan`)
  ;; may hold a match: its tag set is allowed and its upper bound reaches `floor`. Returns where
  ;; the next pair goes.
  (func $offer
    (param $out i32) (param $row i32) (param $meta i32) (param $dot i32) (param $mask i32)
    (param $t f64) (param $phi f64) (param $qn f64) (param $floor f64)
    (result i32)
    (local $scale f64) (local $half f64) (local $cn f64)
    (if (local.get $mask)
      (then
        (if (i32.eqz (i32.load8_u
              (i32.add (local.get $mask) (i32.load offset=16 (local.get $meta)))))
          (then (return (local.get $out))))))
    (local.set $scale (f64.promote_f32 (f32.load (local.get $meta))))
    (local.set $half (f64.promote_f32 (f32.load offset=4 (local.get $meta))))
    (local.set $cn (f64.promote_f32 (f32.load offset=8 (local.get $meta))))
    ;; Same operations in the same order as upperBound() in quantized-rows.ts.
    (if (f64.lt
      (f64.add
        (f64.sub (f64.mul (f64.mul (local.get $scale) (local.get $t)) (f64.convert_i32_s (local.get $dot)))
                 (local.get $half))
        (f64.add
          (f64.add (f64.mul (local.get $cn) (local.get $phi))
                   (f64.mul (f64.promote_f32 (f32.load offset=12 (local.get $meta))) (local.get $qn)))
          (f64.mul (f64.add (f64.mul (local.get $cn) (local.get $qn)) (local.get $half))
                   (f64.const 0x1p-20))))
      (local.get $floor))
      (then (return (local.get $out))))
    (i32.store (local.get $out) (local.get $row))
    (i32.store offset=4 (local.get $out) (local.get $dot))
    (i32.add (local.get $out) (i32.const 8)))

  ;; The sum of the four i32 lanes.
  (func $lanes (param $a v128) (result i32)
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $a)) (i32x4.extract_lane 1 (local.get $a)))
      (i32.add (i32x4.extract_lane 2 (local.get $a)) (i32x4.extract_lane 3 (local.get $a)))))

  ;; Scans `rows` rows starting at `codes` (each `dim` bytes, dim a multiple of 32, rows
  ;; contiguous) with their metadata at `meta` (20 bytes a row: scale f32, half squared norm f32,
  ;; code norm f32, residual norm f32, tag-set id i32). For every row whose tag set is allowed
  ;; (`mask` 0: all are; otherwise mask[tagSet] != 0) and whose upper bound
  ;;   scale*t*dot - half + (codeNorm*phi + residual*qn + (codeNorm*qn + half) * 2^-20)
  ;; is at least `floor`, writes the pair (rowBase + row, dot) as two i32 at `out`, and stops early
  ;; when the pairs reach `outEnd`. Returns how many rows it went through; `written` tells where
  ;; its pairs end. Rows go two at a time while there is room for two pairs, so each probe lane
  ;; loaded serves both rows (6-7% faster at 1M x 512-D on one thread, interleaved runs); then
  ;; one at a time.
  (func (export "scan")
    (param $codes i32) (param $meta i32) (param $rows i32) (param $dim i32) (param $probe i32)
    (param $mask i32) (param $t f64) (param $phi f64) (param $qn f64) (param $floor f64)
    (param $out i32) (param $outEnd i32) (param $rowBase i32)
    (result i32)
    (local $row i32) (local $q i32) (local $d i32) (local $rowEnd i32)
    (local $a v128) (local $b v128) (local $c v128) (local $e v128)
    (local $v v128) (local $w v128) (local $p v128) (local $p2 v128)
    (local $dot i32)
    ;; Two rows at a time.
    (block $pairsDone
      (loop $pair
        (br_if $pairsDone (i32.gt_u (i32.add (local.get $row) (i32.const 2)) (local.get $rows)))
        (br_if $pairsDone (i32.gt_u (i32.add (local.get $out) (i32.const 16)) (local.get $outEnd)))
        (local.set $a (v128.const i32x4 0 0 0 0))
        (local.set $b (v128.const i32x4 0 0 0 0))
        (local.set $c (v128.const i32x4 0 0 0 0))
        (local.set $e (v128.const i32x4 0 0 0 0))
        (local.set $q (local.get $probe))
        (local.set $d (local.get $codes))
        (local.set $rowEnd (i32.add (local.get $codes) (local.get $dim)))
        (loop $chunk
          (local.set $v (v128.load (local.get $d)))
          (local.set $w (v128.load (i32.add (local.get $d) (local.get $dim))))
          (local.set $p (v128.load (local.get $q)))
          (local.set $p2 (v128.load offset=16 (local.get $q)))
          (local.set $a (i32x4.add (local.get $a)
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $v)) (local.get $p))))
          (local.set $b (i32x4.add (local.get $b)
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $v)) (local.get $p2))))
          (local.set $c (i32x4.add (local.get $c)
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $w)) (local.get $p))))
          (local.set $e (i32x4.add (local.get $e)
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $w)) (local.get $p2))))
          (local.set $v (v128.load offset=16 (local.get $d)))
          (local.set $w (v128.load offset=16 (i32.add (local.get $d) (local.get $dim))))
          (local.set $p (v128.load offset=32 (local.get $q)))
          (local.set $p2 (v128.load offset=48 (local.get $q)))
          (local.set $a (i32x4.add (local.get $a)
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $v)) (local.get $p))))
          (local.set $b (i32x4.add (local.get $b)
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $v)) (local.get $p2))))
          (local.set $c (i32x4.add (local.get $c)
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $w)) (local.get $p))))
          (local.set $e (i32x4.add (local.get $e)
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $w)) (local.get $p2))))
          (local.set $d (i32.add (local.get $d) (i32.const 32)))
          (local.set $q (i32.add (local.get $q) (i32.const 64)))
          (br_if $chunk (i32.lt_u (local.get $d) (local.get $rowEnd))))
        (local.set $dot (call $lanes (i32x4.add (local.get $a) (local.get $b))))
        (local.set $out (call $offer (local.get $out) (i32.add (local.get $rowBase) (local.get $row))
          (local.get $meta) (local.get $dot) (local.get $mask)
          (local.get $t) (local.get $phi) (local.get $qn) (local.get $floor)))
        (local.set $dot (call $lanes (i32x4.add (local.get $c) (local.get $e))))
        (local.set $out (call $offer (local.get $out)
          (i32.add (i32.add (local.get $rowBase) (local.get $row)) (i32.const 1))
          (i32.add (local.get $meta) (i32.const 20)) (local.get $dot) (local.get $mask)
          (local.get $t) (local.get $phi) (local.get $qn) (local.get $floor)))
        (local.set $codes (i32.add (local.get $codes) (i32.shl (local.get $dim) (i32.const 1))))
        (local.set $meta (i32.add (local.get $meta) (i32.const 40)))
        (local.set $row (i32.add (local.get $row) (i32.const 2)))
        (br $pair)))
    ;; The rest one at a time: an odd last row, or rows once one pair's room is left.
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $row) (local.get $rows)))
        (br_if $done (i32.ge_u (local.get $out) (local.get $outEnd)))
        (local.set $a (v128.const i32x4 0 0 0 0))
        (local.set $b (v128.const i32x4 0 0 0 0))
        (local.set $q (local.get $probe))
        (local.set $d (local.get $codes))
        (local.set $rowEnd (i32.add (local.get $codes) (local.get $dim)))
        (loop $chunk
          (local.set $v (v128.load (local.get $d)))
          (local.set $w (v128.load offset=16 (local.get $d)))
          (local.set $a (i32x4.add (local.get $a)
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $v)) (v128.load (local.get $q)))))
          (local.set $b (i32x4.add (local.get $b)
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $v)) (v128.load offset=16 (local.get $q)))))
          (local.set $a (i32x4.add (local.get $a)
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $w)) (v128.load offset=32 (local.get $q)))))
          (local.set $b (i32x4.add (local.get $b)
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $w)) (v128.load offset=48 (local.get $q)))))
          (local.set $d (i32.add (local.get $d) (i32.const 32)))
          (local.set $q (i32.add (local.get $q) (i32.const 64)))
          (br_if $chunk (i32.lt_u (local.get $d) (local.get $rowEnd))))
        (local.set $dot (call $lanes (i32x4.add (local.get $a) (local.get $b))))
        (local.set $out (call $offer (local.get $out) (i32.add (local.get $rowBase) (local.get $row))
          (local.get $meta) (local.get $dot) (local.get $mask)
          (local.get $t) (local.get $phi) (local.get $qn) (local.get $floor)))
        (local.set $codes (i32.add (local.get $codes) (local.get $dim)))
        (local.set $meta (i32.add (local.get $meta) (i32.const 20)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $next)))
    (global.set $written (local.get $out))
    (local.get $row))
)
