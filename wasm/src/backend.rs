//! Where the engine's forward pass runs: the CPU kernels of this build, or
//! WebGPU (the `webgpu` build, feature `webgpu`: fuselm-gpu's WGSL kernels
//! through wgpu's browser backend).
//!
//! On WebGPU a forward pass is submitted at once but its logits come back
//! only after the worker's event loop turns (a buffer maps asynchronously;
//! nothing in a worker can wait for it). So a context whose logits are
//! pending hands JS a Promise ([`read_logits`]); once it resolves, the next
//! call takes them ([`take_logits`]) and goes on.
//!
//! Uses `host` only.

use fuselm_core::model::{Context, Model};
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[cfg(feature = "webgpu")]
use crate::host::{coded_error, core_error};

/// The `backend` load option.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    Cpu,
    WebGpu,
    Auto,
}

impl std::str::FromStr for BackendChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(BackendChoice::Cpu),
            "webgpu" => Ok(BackendChoice::WebGpu),
            "auto" => Ok(BackendChoice::Auto),
            _ => Err(format!("backend {s:?}: expected cpu, webgpu or auto")),
        }
    }
}

/// What `info()` says about the backend.
#[derive(Serialize, Clone, Default)]
pub struct BackendInfo {
    /// `cpu` or `webgpu`.
    pub name: &'static str,
    /// The adapter and uploaded bytes, or why the model stayed on the CPU.
    pub detail: String,
}

/// Puts `model` where `choice` asks (see `fuselm_gpu::install` for `auto`).
#[cfg(feature = "webgpu")]
pub fn install(choice: BackendChoice, model: &mut Model<'_>) -> Result<BackendInfo, fuselm_core::Error> {
    if choice == BackendChoice::Cpu {
        return Ok(BackendInfo { name: "cpu", detail: "the CPU backend was asked for".into() });
    }
    let gpu = GPU.with(|g| match &*g.borrow() {
        Some(Ok(gpu)) => Ok(std::sync::Arc::clone(gpu)),
        Some(Err(why)) => Err(fuselm_gpu::GpuError::NoAdapter(why.clone())),
        None => Err(fuselm_gpu::GpuError::NoAdapter("no adapter was requested (call requestGpu first)".into())),
    });
    let placement = fuselm_gpu::install(gpu, choice == BackendChoice::Auto, model).map_err(|e| match e {
        fuselm_gpu::GpuError::Core(e) => e,
        e => fuselm_core::Error::Offload { backend: "WebGPU".into(), why: e.to_string() },
    })?;
    Ok(match placement {
        fuselm_gpu::Placement::Gpu { .. } => BackendInfo { name: "webgpu", detail: placement.describe() },
        fuselm_gpu::Placement::Cpu { why } => BackendInfo { name: "cpu", detail: why },
    })
}

#[cfg(not(feature = "webgpu"))]
pub fn install(choice: BackendChoice, _model: &mut Model<'_>) -> Result<BackendInfo, fuselm_core::Error> {
    match choice {
        BackendChoice::Cpu => Ok(BackendInfo { name: "cpu", detail: "the CPU backend was asked for".into() }),
        BackendChoice::Auto => Ok(BackendInfo { name: "cpu", detail: "this build has no WebGPU backend".into() }),
        BackendChoice::WebGpu => Err(fuselm_core::Error::Offload {
            backend: "WebGPU".into(),
            why: "this build has no WebGPU backend (the package's webgpu build has)".into(),
        }),
    }
}

#[cfg(feature = "webgpu")]
thread_local! {
    /// The page's adapter and device, or why there is none: one per instance.
    static GPU: std::cell::RefCell<Option<Result<std::sync::Arc<fuselm_gpu::Gpu>, String>>> =
        const { std::cell::RefCell::new(None) };
}

/// Finds the WebGPU adapter and device (once per instance) for loads with
/// `backend: 'webgpu' | 'auto'`; resolves to JSON `{adapter, software}`
/// (its description, and whether it is a software one such as
/// SwiftShader), or rejects with code `NO_GPU` saying why there is none.
#[cfg(feature = "webgpu")]
/// `label` names the adapter where the browser leaves wgpu's name empty
/// (Chromium does for SwiftShader; the worker reads `GPUAdapterInfo`).
#[wasm_bindgen(js_name = requestGpu)]
pub async fn request_gpu(label: Option<String>) -> Result<String, JsValue> {
    let found = match GPU.with(|g| g.borrow().clone()) {
        Some(found) => found,
        None => {
            let found = fuselm_gpu::Gpu::new()
                .await
                .map(|mut gpu| {
                    if gpu.info.name.is_empty() {
                        gpu.info.name = label.unwrap_or_default();
                    }
                    std::sync::Arc::new(gpu)
                })
                .map_err(|e| e.to_string());
            GPU.with(|g| *g.borrow_mut() = Some(found.clone()));
            found
        }
    };
    let gpu = found.map_err(|why| coded_error(why, "NO_GPU"))?;
    Ok(serde_json::json!({ "adapter": gpu.describe(), "software": gpu.is_software() }).to_string())
}

/// Starts reading back `ctx`'s pending logits: a Promise that resolves once
/// [`take_logits`] can take them (rejects if the read-back failed), or
/// `None` when nothing is pending.
#[cfg(feature = "webgpu")]
pub fn read_logits(ctx: &mut Context) -> Result<Option<js_sys::Promise>, JsValue> {
    if !ctx.logits_pending() {
        return Ok(None);
    }
    let gpu = gpu_forward(ctx)?;
    if !gpu.logits_pending_read() {
        // Already being read: the Promise handed out before still stands for it.
        return Err(coded_error("the logits are still being read back: await the last Promise first", "BAD_STATE"));
    }
    let mut started = Ok(());
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        started = gpu.start_read(move |outcome| {
            let _ = match outcome {
                Ok(()) => resolve.call0(&JsValue::UNDEFINED),
                Err(why) => reject.call1(&JsValue::UNDEFINED, &coded_error(why, "GPU_ERROR")),
            };
        });
    });
    started.map_err(|e| coded_error(e, "GPU_ERROR"))?;
    Ok(Some(promise))
}

/// Whether `ctx`'s logits are being read back and have not arrived yet (the
/// Promise [`read_logits`] handed out has not settled).
#[cfg(feature = "webgpu")]
pub fn read_in_flight(ctx: &mut Context) -> bool {
    gpu_forward(ctx).is_ok_and(|gpu| gpu.read_in_flight())
}

/// Takes the logits a resolved [`read_logits`] Promise stands for into `ctx`
/// (checked as every forward pass's are); nothing when none are on their way.
#[cfg(feature = "webgpu")]
pub fn take_logits(ctx: &mut Context) -> Result<(), JsValue> {
    if !ctx.logits_pending() {
        return Ok(());
    }
    ctx.receive_logits(|offload, logits| {
        let gpu = offload.as_any_mut().downcast_mut::<fuselm_gpu::GpuForward>().ok_or_else(not_gpu)?;
        gpu.finish_read(logits).map_err(|e| fuselm_gpu::to_core(e, gpu.gpu()))
    })
    .map_err(core_error)
}

#[cfg(feature = "webgpu")]
fn gpu_forward(ctx: &mut Context) -> Result<&mut fuselm_gpu::GpuForward, JsValue> {
    ctx.offload_mut()
        .and_then(|o| o.as_any_mut().downcast_mut::<fuselm_gpu::GpuForward>())
        .ok_or_else(|| core_error(not_gpu()))
}

#[cfg(feature = "webgpu")]
fn not_gpu() -> fuselm_core::Error {
    fuselm_core::Error::Offload { backend: "WebGPU".into(), why: "the context's backend is not the GPU's".into() }
}

/// Without WebGPU a context's logits are never pending.
#[cfg(not(feature = "webgpu"))]
pub fn read_in_flight(_ctx: &mut Context) -> bool {
    false
}

#[cfg(not(feature = "webgpu"))]
pub fn read_logits(_ctx: &mut Context) -> Result<Option<js_sys::Promise>, JsValue> {
    Ok(None)
}

#[cfg(not(feature = "webgpu"))]
pub fn take_logits(_ctx: &mut Context) -> Result<(), JsValue> {
    Ok(())
}
