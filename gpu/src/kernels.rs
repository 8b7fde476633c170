//! Compiled compute pipelines, built once per device.

use fuselm_core::GgmlType;

use crate::device::Gpu;
use crate::formats::{GpuAct, FORMATS};
use crate::shader_source;

pub struct Kernels {
    /// One matrix-vector pipeline per format of [`FORMATS`], in its order.
    matvec: Vec<wgpu::ComputePipeline>,
    /// One quantizer per [`GpuAct::ALL`], in its order.
    quantize: Vec<wgpu::ComputePipeline>,
}

pub(crate) fn pipeline(gpu: &Gpu, label: &str, source: &str, entry: &str) -> wgpu::ComputePipeline {
    let module = gpu.device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    gpu.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    })
}

impl Kernels {
    /// Compiles every kernel; a shader the driver rejects is an error naming it.
    pub fn new(gpu: &Gpu) -> crate::Result<Kernels> {
        let matvec = FORMATS
            .iter()
            .map(|f| pipeline(gpu, &format!("matvec {}", f.ggml_type), &shader_source::matvec(f), "main"))
            .collect();
        let source = shader_source::quantize();
        let quantize = GpuAct::ALL.iter().map(|a| pipeline(gpu, a.entry_point(), &source, a.entry_point())).collect();
        gpu.check()?;
        Ok(Kernels { matvec, quantize })
    }

    pub fn matvec(&self, ggml_type: GgmlType) -> Option<&wgpu::ComputePipeline> {
        FORMATS.iter().position(|f| f.ggml_type == ggml_type).map(|i| &self.matvec[i])
    }

    pub fn quantize(&self, act: GpuAct) -> &wgpu::ComputePipeline {
        &self.quantize[GpuAct::ALL.iter().position(|&a| a == act).expect("every GpuAct has a quantizer")]
    }
}
