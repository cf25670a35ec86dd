// The face check: open the camera, show the prompts one at a time, take the
// frames on the page's timeline, send them, and follow the server's answer.
// The timeline comes from the page (data-*), so the server decides it.
(function () {
  "use strict";

  const root = document.getElementById("face");
  if (!root) return;
  const texts = JSON.parse(document.getElementById("face-texts").textContent);
  const poses = Array.from(document.querySelectorAll("#poses li"), (li) => li.dataset.pose);
  const video = document.getElementById("camera");
  const prompt = document.getElementById("prompt");
  const message = document.getElementById("message");
  const progress = document.getElementById("progress");
  const start = document.getElementById("start");
  const retry = document.getElementById("retry");
  const noCamera = document.getElementById("no-camera");
  const videoForm = document.getElementById("video-form");

  const timeline = {
    frontMs: Number(root.dataset.frontMs),
    frontCaptureMs: Number(root.dataset.frontCaptureMs),
    poseMs: Number(root.dataset.poseMs),
    poseCapturesMs: root.dataset.poseCapturesMs.split(",").map(Number),
  };
  const totalMs = timeline.frontMs + poses.length * timeline.poseMs;

  function show(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  function until(t0, offsetMs) {
    const wait = t0 + offsetMs - performance.now();
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
  }

  // Frames are sent at most 640 pixels wide: enough for the checks, small to upload.
  function grab() {
    const canvas = document.createElement("canvas");
    const scale = Math.min(1, 640 / (video.videoWidth || 640));
    canvas.width = Math.round((video.videoWidth || 640) * scale);
    canvas.height = Math.round((video.videoHeight || 480) * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
  }

  async function record(stream) {
    video.srcObject = stream;
    await video.play();
    const t0 = performance.now();
    const frames = [];
    const tick = setInterval(() => {
      progress.value = Math.min(100, ((performance.now() - t0) / totalMs) * 100);
    }, 100);
    try {
      prompt.textContent = texts.look_straight;
      await until(t0, timeline.frontCaptureMs);
      frames.push(await grab());
      let offset = timeline.frontMs;
      for (const pose of poses) {
        await until(t0, offset);
        prompt.textContent = texts.poses[pose];
        for (const at of timeline.poseCapturesMs) {
          await until(t0, offset + at);
          frames.push(await grab());
        }
        offset += timeline.poseMs;
      }
      await until(t0, offset);
    } finally {
      clearInterval(tick);
      stream.getTracks().forEach((track) => track.stop());
    }
    return frames;
  }

  async function send(body) {
    body.append("challenge_id", root.dataset.challengeId);
    prompt.textContent = texts.checking;
    let response;
    try {
      response = await fetch(root.dataset.submitUrl, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": root.dataset.csrfToken },
      });
    } catch (error) {
      prompt.textContent = "";
      show(texts.network);
      retry.hidden = false;
      return;
    }
    const answer = await response.json().catch(() => ({}));
    if (response.ok && answer.status === "accepted") {
      prompt.textContent = texts.accepted;
      window.location.assign(answer.next);
      return;
    }
    prompt.textContent = "";
    root.dataset.refusal = (answer.reasons || [answer.error || "error"]).join(" ");
    show(answer.error_description || texts.network);
    retry.hidden = false;
  }

  start.addEventListener("click", async () => {
    show("");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      show(texts.no_camera);
      noCamera.open = true;
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
        audio: false,
      });
    } catch (error) {
      show(texts.camera_denied);
      noCamera.open = true;
      return;
    }
    start.hidden = true;
    noCamera.hidden = true;
    progress.hidden = false;
    const frames = await record(stream);
    const body = new FormData();
    frames.forEach((frame, index) => body.append("frames", frame, `frame${index}.jpg`));
    await send(body);
  });

  videoForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = document.getElementById("video").files[0];
    if (!file) return;
    start.hidden = true;
    const body = new FormData();
    body.append("video", file, file.name);
    await send(body);
  });
})();
