//! The adapter and device: found once per process or page, shared by the
//! kernels, weights and contexts built on it.

use std::sync::{Arc, Mutex};

use crate::error::{GpuError, Result};

/// A wgpu device and queue with what the adapter said about itself.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    /// Errors the driver or wgpu's validation reported outside a call that
    /// returns them (wgpu's default handler would panic); taken by [`Gpu::check`].
    errors: Arc<Mutex<Vec<String>>>,
}

impl Gpu {
    /// The first adapter wgpu offers (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME` and
    /// `WGPU_POWER_PREF` choose natively), with every limit it allows.
    pub async fn new() -> Result<Gpu> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle().with_env());
        let adapter = wgpu::util::initialize_adapter_from_env_or_default(&instance, None)
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        // shader-f16 is never required: f16 values are decoded with integer operations.
        let features = adapter.features() & wgpu::Features::SHADER_F16;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("fuselm"),
                required_features: features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::Device { adapter: describe(&info), why: e.to_string() })?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&errors);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().unwrap_or_else(|p| p.into_inner()).push(e.to_string());
        }));
        Ok(Gpu { device, queue, info, limits, features, errors })
    }

    /// [`Gpu::new`], blocking (native hosts).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new_blocking() -> Result<Gpu> {
        pollster::block_on(Gpu::new())
    }

    /// The adapter in one line: name, backend, device type.
    pub fn describe(&self) -> String {
        describe(&self.info)
    }

    /// Whether the adapter is a CPU (lavapipe, SwiftShader): its speed is not a GPU's.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// The first error reported since the last check, if any.
    pub fn check(&self) -> Result<()> {
        let first = self.errors.lock().unwrap_or_else(|p| p.into_inner()).drain(..).next();
        match first {
            Some(why) => Err(GpuError::Driver { adapter: self.describe(), why }),
            None => Ok(()),
        }
    }

    /// The limits that decide what fits, in one line.
    pub fn limits_summary(&self) -> String {
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        format!(
            "storage binding <= {:.0} MiB, buffer <= {:.0} MiB, {} storage buffers per stage, shader-f16 {}",
            mib(self.max_binding()),
            mib(self.limits.max_buffer_size),
            self.limits.max_storage_buffers_per_shader_stage,
            if self.features.contains(wgpu::Features::SHADER_F16) { "yes" } else { "no" },
        )
    }

    /// The most bytes one storage binding may cover.
    pub fn max_binding(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size)
    }
}

fn describe(info: &wgpu::AdapterInfo) -> String {
    // Browsers may leave the name empty (Chromium does for SwiftShader).
    let name = if info.name.is_empty() { "unnamed adapter" } else { &info.name };
    format!("{name} ({:?}, {:?})", info.backend, info.device_type)
}
