// Camera frames → the model's 25 frames/s timeline, by capture time (pure: no DOM, tested in
// Node by test/camera_slots.test.ts). Files are resampled by ffmpeg's fps filter; a camera
// delivers 15, 30 or 60 frames/s (and a busy page sees only some of them), so the webcam follows
// the same rule by each frame's capture time: the first frame opens slot 0, slot n lies at
// n × 40 ms after it, and a frame belongs to the slot nearest its time (round((t − t₀)/40 ms)).
//
// - A frame whose slot is already taken is dropped before anything is done with it (not grabbed,
//   not tracked, not cut): a 30 frames/s camera gives 25 frames/s, a 50 frames/s camera every
//   other frame.
// - A frame whose slot lies k slots past the last one taken fills k slots: k − 1 repeats of the
//   previous slot's frame (the frame shown until this one came, as ffmpeg's filter duplicates a
//   frame of a file), then itself. So a page (or camera) slower than 25 frames/s still feeds the
//   reader 25 frames per second of speech, and a pause in the camera is a held frame.
// - Repeats are capped at `maxRepeat` (the reader's window − 1): after that many copies the
//   window holds only the held frame and the new one, so more copies would change nothing the
//   reader says (only its frame counter), and a long pause costs the model at most one window.
// - A frame earlier than the last one taken (a camera clock that jumped back) takes the next
//   slot, and the timeline restarts from it.
//
// One difference from ffmpeg: its filter (round=near) takes the LAST frame whose rounded time
// falls in a slot; live, a frame cannot be known to be the last of its slot until the next one
// arrives (one more grab per camera frame and a frame of latency), so the first one is taken.
// Both pick a frame within half a slot (20 ms) of the slot's time; they differ only in which
// of two frames inside the same 40 ms, and by less than one camera frame interval.

export class SlotScheduler {
  /** `fps`: the model's frame rate; `maxRepeat`: most repeats before one frame. */
  constructor({ fps = 25, maxRepeat = 28 } = {}) {
    this.slotMs = 1000 / fps;
    this.maxRepeat = maxRepeat;
    this.t0 = null; // time of slot 0 (ms)
    this.last = -1; // last slot taken
    this.lastMs = -Infinity; // time of the last frame taken
    this.stats = { frames: 0, used: 0, dropped: 0, slots: 0, repeats: 0, cut: 0 };
  }

  /** A frame captured at `ms` (milliseconds, any origin, increasing): `{use: false}` to drop it,
   *  else `{use: true, slot, repeat}`: it takes slot `slot` after `repeat` repeats of the
   *  previous slot's frame. */
  frame(ms) {
    const s = this.stats;
    s.frames++;
    if (!Number.isFinite(ms)) throw new Error(`camera frame time ${ms} is not a number`);
    if (this.t0 === null || ms < this.lastMs - this.slotMs) {
      // the first frame, or the clock went back: this frame takes the next slot
      this.t0 = ms - (this.last + 1) * this.slotMs;
    }
    const slot = Math.round((ms - this.t0) / this.slotMs);
    if (slot <= this.last) {
      s.dropped++;
      return { use: false, slot };
    }
    const gap = slot - this.last - 1;
    const repeat = this.last < 0 ? 0 : Math.min(gap, this.maxRepeat);
    s.cut += this.last < 0 ? 0 : gap - repeat;
    this.last = slot;
    this.lastMs = ms;
    s.used++;
    s.repeats += repeat;
    s.slots += repeat + 1;
    return { use: true, slot, repeat };
  }
}

/** A frame's time from requestVideoFrameCallback's metadata, in ms: the capture time where the
 *  browser gives one (camera frames), else the media time, else the expected display time. */
export function frameTimeMs(now, meta) {
  if (Number.isFinite(meta?.captureTime)) return meta.captureTime;
  if (Number.isFinite(meta?.mediaTime)) return 1000 * meta.mediaTime;
  if (Number.isFinite(meta?.expectedDisplayTime)) return meta.expectedDisplayTime;
  return now;
}
