"""Synthetic captures for tests and the bench: a photo made to turn its head, and the attacks.

Genuine: the photo's 68 landmarks get the generic face's depths (nose
forward, outline back), are rotated in 3-D to the asked poses and projected;
the photo is warped piecewise-affinely (Delaunay triangles over the landmarks,
a few forehead points and fixed image-border points) so its landmarks land
there. Frames differ by a little jitter, scale, brightness and sensor noise.

Attacks: the same photo tilted as a flat plane (a homography per asked
direction), another person, a second face in the frame, no face, the poses in
the wrong order, one still image repeated, and (built by the caller) a frame
set replayed for another challenge.

``write_y4m`` writes frames as a 640×480 yuv420p Y4M file, which Chromium
accepts as a fake camera (``--use-file-for-fake-video-capture``).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from biometrics.liveness.challenge import Pose
from biometrics.liveness.face_model import LANDMARK_DEPTHS, eye_distance, head_rotation
from biometrics.liveness.faces import find_faces, landmarks_68

FRAME_WIDTH = 640
FRAME_HEIGHT = 480
FOCAL = float(FRAME_WIDTH)  # a webcam's focal length is about the frame's width
# The head turns about a point behind the face (eye-distance units): the neck.
_PIVOT = np.array([0.0, 0.3, 1.3])
# Forehead points above the eyebrows (offset up in eye distances, depth) so the
# forehead turns with the face instead of staying with the background.
_FOREHEAD = (
    (17, -0.45, 0.35),
    (19, -0.6, 0.05),
    (21, -0.65, -0.05),
    (22, -0.65, -0.05),
    (24, -0.6, 0.05),
    (26, -0.45, 0.35),
)

POSE_DIRECTIONS: dict[Pose, tuple[float, float]] = {
    Pose.LEFT: (1.0, 0.0),  # the subject's left: nose towards the image's right
    Pose.RIGHT: (-1.0, 0.0),
    Pose.UP: (0.0, 1.0),
    Pose.DOWN: (0.0, -1.0),
}


@dataclass(frozen=True)
class SourceFace:
    """A photo composed into a 640×480 frame, with its face's landmarks."""

    canvas: np.ndarray
    landmarks: np.ndarray

    @property
    def eye_distance(self) -> float:
        return eye_distance(self.landmarks)


def load_photo(path: str | Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def prepare_source(
    photo: np.ndarray, *, face_width: float = 190.0, size: tuple[int, int] = (FRAME_WIDTH, FRAME_HEIGHT)
) -> SourceFace:
    """Scale and shift a photo so its (main) face is ``face_width`` px wide near the frame's centre."""
    faces = find_faces(photo)
    if faces.main is None:
        raise ValueError("the photo shows no face")
    box = faces.main
    scale = face_width / box.width
    centre_x, centre_y = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    width, height = size
    affine = np.array(
        [[scale, 0.0, width / 2 - scale * centre_x], [0.0, scale, height * 0.46 - scale * centre_y]]
    )
    canvas = cv2.warpAffine(
        photo,
        affine,
        size,
        flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REPLICATE,
    )
    found = find_faces(canvas)
    if found.main is None:
        raise ValueError("the composed frame shows no face")
    return SourceFace(canvas=canvas, landmarks=landmarks_68(canvas, found.main))


def plan_angles(
    poses: Sequence[Pose], frame_count: int, amplitudes: Sequence[float]
) -> list[tuple[float, float]]:
    """(yaw, pitch) per frame: frontal first, each pose's peak once, transitions in between.

    The keyframes are frontal + one peak per pose; extra frames are inserted,
    one per gap in turn, halfway between consecutive keyframes.
    """
    keys = [(0.0, 0.0)] + [
        (POSE_DIRECTIONS[pose][0] * amplitude, POSE_DIRECTIONS[pose][1] * amplitude)
        for pose, amplitude in zip(poses, amplitudes, strict=True)
    ]
    if frame_count < len(keys):
        raise ValueError(f"{len(keys)} frames are needed for {len(poses)} poses")
    extra = [0] * (len(keys) - 1)
    for index in range(frame_count - len(keys)):
        extra[index % len(extra)] += 1
    plan = [keys[0]]
    for gap, (start, end) in enumerate(itertools.pairwise(keys)):
        steps = extra[gap] + 1
        for step in range(1, steps + 1):
            t = step / steps
            plan.append((start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1])))
    return plan


def render_head(
    source: SourceFace, yaw: float, pitch: float, rng: np.random.Generator, *, jitter: bool = True
) -> np.ndarray:
    """The source photo with its head turned to (yaw, pitch) in 3-D, plus camera jitter."""
    iod = source.eye_distance
    eyes_mid = (source.landmarks[36:42].mean(axis=0) + source.landmarks[42:48].mean(axis=0)) / 2
    forehead = np.array(
        [source.landmarks[index] + (0.0, up * iod) for index, up, _ in _FOREHEAD], dtype=np.float64
    )
    points_2d = np.vstack([source.landmarks, forehead])
    depths = np.concatenate([LANDMARK_DEPTHS, [depth for _, _, depth in _FOREHEAD]])
    points_3d = np.column_stack([(points_2d - eyes_mid) / iod, depths])
    distance = FOCAL / iod  # eye-distance units from the camera to the face
    rotated = (points_3d - _PIVOT) @ head_rotation(yaw, pitch).T + _PIVOT
    moved = points_2d + (_project(rotated, distance) - _project(points_3d, distance)) * iod
    if jitter:
        moved = _jitter_points(moved, eyes_mid, rng)
    frame = warp_piecewise_affine(source.canvas, points_2d, moved)
    return _camera_noise(frame, rng) if jitter else frame


def render_flat_tilt(
    source: SourceFace, yaw: float, pitch: float, rng: np.random.Generator, *, jitter: bool = True
) -> np.ndarray:
    """The source photo as a flat print tilted by (yaw, pitch) in front of the camera."""
    height, width = source.canvas.shape[:2]
    roll = float(rng.uniform(-3, 3)) if jitter else 0.0
    scale = float(rng.uniform(0.92, 1.05)) if jitter else 1.0
    shift = rng.uniform(-12, 12, size=2) if jitter else np.zeros(2)
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    centre = np.array([width / 2, height / 2])
    plane = np.column_stack([(corners - centre) * scale, np.zeros(4)])
    rolled = plane @ _roll(roll).T
    turned = rolled @ head_rotation(yaw, pitch).T
    distance = FOCAL  # the print is held about one frame-width from the camera
    projected = FOCAL * turned[:, :2] / (distance + turned[:, 2:3]) + centre + shift
    homography = cv2.getPerspectiveTransform(corners.astype(np.float32), projected.astype(np.float32))
    wall = _wall(rng, width, height)
    frame = cv2.warpPerspective(source.canvas, homography, (width, height), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((height, width), 255, np.uint8), homography, (width, height))
    frame = np.where(mask[..., None] > 127, frame, wall)
    return _camera_noise(frame, rng) if jitter else frame


def genuine_frames(
    source: SourceFace,
    poses: Sequence[Pose],
    rng: np.random.Generator,
    *,
    frame_count: int = 5,
    amplitude: tuple[float, float] = (16.0, 25.0),
) -> list[np.ndarray]:
    """A live head following the poses: frontal first, each pose reached in order."""
    amplitudes = [float(rng.uniform(*amplitude)) for _ in poses]
    plan = plan_angles(poses, frame_count, amplitudes)
    frames = []
    for yaw, pitch in plan:
        wobble = rng.uniform(-2.5, 2.5, size=2)
        frames.append(render_head(source, yaw + wobble[0], pitch + wobble[1], rng))
    return frames


def flat_photo_frames(
    source: SourceFace,
    poses: Sequence[Pose],
    rng: np.random.Generator,
    *,
    frame_count: int = 5,
    amplitude: tuple[float, float] = (25.0, 40.0),
) -> list[np.ndarray]:
    """A printed photo tilted towards each asked direction in turn (a planar attack)."""
    amplitudes = [float(rng.uniform(*amplitude)) for _ in poses]
    plan = plan_angles(poses, frame_count, amplitudes)
    return [render_flat_tilt(source, yaw, pitch, rng) for yaw, pitch in plan]


def second_face_frames(
    frames: Sequence[np.ndarray], other: SourceFace, rng: np.random.Generator
) -> list[np.ndarray]:
    """Frames with another person's face beside the main one (about 0.8× its size)."""
    faces = find_faces(frames[0])
    if faces.main is None:
        raise ValueError("the first frame shows no face")
    main = faces.main
    found = find_faces(other.canvas).main
    if found is None:
        raise ValueError("the other photo shows no face")
    margin = int(0.45 * found.width)
    top, bottom = max(found.top - margin, 0), min(found.bottom + margin, other.canvas.shape[0])
    left, right = max(found.left - margin, 0), min(found.right + margin, other.canvas.shape[1])
    patch = other.canvas[top:bottom, left:right]
    scale = 0.8 * main.width / found.width
    patch = cv2.resize(
        patch, (round(patch.shape[1] * scale), round(patch.shape[0] * scale)), interpolation=cv2.INTER_AREA
    )
    height, width = frames[0].shape[:2]
    ph, pw = patch.shape[:2]
    space_right = width - main.right
    x = min(main.right + 10, width - pw) if space_right >= main.left else max(main.left - 10 - pw, 0)
    y = int(np.clip((main.top + main.bottom) / 2 - ph / 2, 0, height - ph))
    mask = np.zeros((ph, pw), np.float32)
    cv2.ellipse(mask, (pw // 2, ph // 2), (int(pw * 0.45), int(ph * 0.48)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 4)[..., None]
    result = []
    for frame in frames:
        out = frame.astype(np.float32)
        dx, dy = (int(v) for v in rng.integers(-3, 4, size=2))
        yy, xx = int(np.clip(y + dy, 0, height - ph)), int(np.clip(x + dx, 0, width - pw))
        region = out[yy : yy + ph, xx : xx + pw]
        out[yy : yy + ph, xx : xx + pw] = region * (1 - mask) + patch.astype(np.float32) * mask
        result.append(np.clip(out, 0, 255).astype(np.uint8))
    return result


def no_face_frames(rng: np.random.Generator, *, frame_count: int = 5) -> list[np.ndarray]:
    """A camera pointed at a wall with a few objects: no face anywhere."""
    base = _wall(rng, FRAME_WIDTH, FRAME_HEIGHT)
    for _ in range(6):
        x, y = (int(v) for v in rng.integers(0, [FRAME_WIDTH - 60, FRAME_HEIGHT - 60]))
        w, h = (int(v) for v in rng.integers(40, 220, size=2))
        colour = tuple(int(v) for v in rng.integers(30, 230, size=3))
        cv2.rectangle(base, (x, y), (x + w, y + h), colour, -1)
    frames = []
    for _ in range(frame_count):
        dx, dy = rng.uniform(-6, 6, size=2)
        shifted = cv2.warpAffine(
            base,
            np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]]),
            (FRAME_WIDTH, FRAME_HEIGHT),
            borderMode=cv2.BORDER_REPLICATE,
        )
        frames.append(_camera_noise(shifted, rng))
    return frames


def wrong_order(poses: Sequence[Pose]) -> tuple[Pose, ...]:
    """The asked poses in another order (reversed, or rotated when reversing changes nothing)."""
    poses = tuple(poses)
    candidates = [poses[::-1], *(poses[i:] + poses[:i] for i in range(1, len(poses)))]
    for candidate in candidates:
        if candidate != poses:
            return candidate
    raise ValueError("the poses have only one order")


def still_frames(source: SourceFace, *, frame_count: int = 5) -> list[np.ndarray]:
    """One still image of the photo, repeated."""
    return [source.canvas.copy() for _ in range(frame_count)]


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def encode_png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def write_y4m(frames: Sequence[np.ndarray], path: str | Path, *, fps: int = 10) -> None:
    """Write RGB frames as a 640×480 yuv420p Y4M file (Chromium's fake-camera format).

    Frames of another size are scaled to fit and letterboxed. The header is
    the one ffmpeg writes for ``-pix_fmt yuv420p``.
    """
    with open(path, "wb") as file:
        file.write(
            f"YUV4MPEG2 W{FRAME_WIDTH} H{FRAME_HEIGHT} F{fps}:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n".encode()
        )
        for frame in frames:
            fitted = _letterbox(frame, FRAME_WIDTH, FRAME_HEIGHT)
            file.write(b"FRAME\n")
            file.write(cv2.cvtColor(fitted, cv2.COLOR_RGB2YUV_I420).tobytes())


def warp_piecewise_affine(
    image: np.ndarray, source_points: np.ndarray, target_points: np.ndarray
) -> np.ndarray:
    """Warp ``image`` so that each source point lands on its target point.

    Delaunay triangles over the source points plus fixed image-border points;
    each target triangle takes its pixels from its source triangle by an affine map.
    """
    height, width = image.shape[:2]
    border = _border_points(width, height)
    src = np.vstack([source_points, border])
    dst = np.vstack([target_points, border])
    triangles = _delaunay(src, width, height)
    owner = np.zeros((height, width), np.int32)
    inverse = np.zeros((len(triangles) + 1, 2, 3))
    inverse[0] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    for number, (a, b, c) in enumerate(triangles, start=1):
        inverse[number] = cv2.getAffineTransform(
            dst[[a, b, c]].astype(np.float32), src[[a, b, c]].astype(np.float32)
        )
        cv2.fillConvexPoly(owner, np.round(dst[[a, b, c]]).astype(np.int32), number)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    affine = inverse[owner].astype(np.float32)
    map_x = affine[..., 0, 0] * xs + affine[..., 0, 1] * ys + affine[..., 0, 2]
    map_y = affine[..., 1, 0] * xs + affine[..., 1, 1] * ys + affine[..., 1, 2]
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _delaunay(points: np.ndarray, width: int, height: int) -> list[tuple[int, int, int]]:
    subdiv = cv2.Subdiv2D((-1, -1, width + 2, height + 2))
    clipped = np.clip(points, [0, 0], [width - 1e-3, height - 1e-3])
    index_of: dict[tuple[float, float], int] = {}
    for index, (x, y) in enumerate(clipped):
        key = (round(float(x), 3), round(float(y), 3))
        if key not in index_of:
            index_of[key] = index
            subdiv.insert((float(x), float(y)))
    triangles = []
    for x1, y1, x2, y2, x3, y3 in subdiv.getTriangleList():
        keys = [(round(float(x), 3), round(float(y), 3)) for x, y in ((x1, y1), (x2, y2), (x3, y3))]
        if all(key in index_of for key in keys):
            triangles.append(tuple(index_of[key] for key in keys))
    return triangles  # type: ignore[return-value]


def _border_points(width: int, height: int) -> np.ndarray:
    xs = np.linspace(0, width - 1, 5)
    ys = np.linspace(0, height - 1, 4)
    top = [(x, 0.0) for x in xs]
    bottom = [(x, height - 1.0) for x in xs]
    sides = [(0.0, y) for y in ys[1:-1]] + [(width - 1.0, y) for y in ys[1:-1]]
    return np.array(top + bottom + sides, dtype=np.float64)


def _project(points: np.ndarray, distance: float) -> np.ndarray:
    """Pinhole projection of face points (eye-distance units) seen from ``distance``, in eye distances."""
    return distance * points[:, :2] / (distance + points[:, 2:3])


def _roll(degrees: float) -> np.ndarray:
    angle = np.radians(degrees)
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _jitter_points(points: np.ndarray, centre: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The head moves a little between frames: shift, scale and roll about the eyes."""
    scale = rng.uniform(0.97, 1.03)
    roll = np.radians(rng.uniform(-2.0, 2.0))
    shift = rng.uniform(-5.0, 5.0, size=2)
    c, s = np.cos(roll), np.sin(roll)
    rotation = np.array([[c, -s], [s, c]]) * scale
    return (points - centre) @ rotation.T + centre + shift


def _camera_noise(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gain = rng.uniform(0.93, 1.07)
    noise = rng.normal(0.0, 2.0, size=frame.shape)
    return np.clip(frame.astype(np.float32) * gain + noise, 0, 255).astype(np.uint8)


def _wall(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    top = rng.integers(120, 220, size=3).astype(np.float32)
    bottom = top * rng.uniform(0.6, 0.9)
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    wall = top * (1 - t) + bottom * t
    return np.broadcast_to(wall, (height, width, 3)).astype(np.uint8).copy()


def _letterbox(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return np.ascontiguousarray(frame)
    scale = min(width / w, height / h)
    resized = cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    out = np.zeros((height, width, 3), np.uint8)
    y, x = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    out[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return out
