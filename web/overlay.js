// Drawn over a video (camera or uploaded): face box (green: detected, yellow: tracked), the 68
// landmarks, the mouth ROI outline (src/roi/mouth_roi.ts mouthRoiQuad) and a word.
import { mouthRoiQuad } from 'eflip/roi';

export function drawOverlay(
  canvas,
  width,
  height,
  { box = null, detected = true, landmarks = null, label = '' } = {},
) {
  // resizing a canvas reallocates it, even to the same size: only when the size changed
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, width, height);
  ctx.lineWidth = Math.max(2, width / 240);
  if (box) {
    ctx.strokeStyle = detected ? '#00e676' : '#ffd600';
    ctx.strokeRect(box.x, box.y, box.width, box.height);
  }
  if (landmarks) {
    ctx.fillStyle = '#40c4ff';
    for (const [x, y] of landmarks) ctx.fillRect(x - 1.5, y - 1.5, 3, 3);
    ctx.strokeStyle = '#ff4081';
    ctx.beginPath();
    mouthRoiQuad(landmarks, 96).forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.closePath();
    ctx.stroke();
  }
  if (label) {
    const px = Math.max(16, Math.round(width / 18));
    ctx.font = `bold ${px}px system-ui, sans-serif`;
    ctx.fillStyle = 'rgba(0,0,0,0.6)';
    ctx.fillRect(0, 0, ctx.measureText(label).width + px, px * 1.6);
    ctx.fillStyle = '#fff';
    ctx.fillText(label, px / 2, px * 1.15);
  }
}
