//! E801: an Istio version meshc does not generate artifacts for.

use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::model::IstioVersion;

/// The newest minor release of Istio 1 that meshc knows.
pub const NEWEST_MINOR: u16 = 29;

declare_code! {
    /// The `istio` version is one meshc does not support.
    ///
    /// meshc generates the artifacts of two mesh-expansion flows, and
    /// supports the releases it knows them for:
    ///
    /// - **0.8** and **1.0 to 1.7** (any patch): the legacy flow, with
    ///   internal load balancers, `istioctl register`-style Services and
    ///   the `setupMeshEx.sh` files;
    /// - **1.8 to 1.29** (any patch): the WorkloadGroup/WorkloadEntry flow
    ///   behind an east-west gateway.
    ///
    /// Releases before 0.8 expanded the mesh in a different way, and
    /// releases after 1.29 are newer than this meshc: their formats may
    /// have changed, so meshc does not pretend to support them. Pin the
    /// newest release you can, or upgrade meshc.
    ///
    /// ```kdl
    /// mesh bookinfo { istio "1.30" }   // E801 with a meshc that knows 1.29
    /// mesh bookinfo { istio "0.7" }    // E801
    /// ```
    pub static CODE = "E801", Error, "unsupported-istio-version", "meshc does not support this Istio version";
}

pub static RULE: Rule = Rule { code: &CODE, run };

/// Whether meshc generates artifacts for this release.
pub fn supported(v: IstioVersion) -> bool {
    matches!((v.major, v.minor), (0, 8)) || (v.major == 1 && v.minor <= NEWEST_MINOR)
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let istio = &cx.topo.mesh.istio;
    // The default mesh (no readable `mesh` node) has no version to judge.
    if istio.span.is_empty() || supported(istio.value) {
        return;
    }
    let v = istio.value;
    let why = if (v.major, v.minor) < (0, 8) {
        "is older than the first release with mesh expansion as meshc generates it".to_owned()
    } else if v.major == 0 {
        "is a pre-1.0 release other than 0.8".to_owned()
    } else {
        format!("is newer than the newest release this meshc knows (1.{NEWEST_MINOR})")
    };
    diags.push(
        Diagnostic::new(&CODE, istio.span, format!("Istio {v} is not supported: it {why}"))
            .label("unsupported version")
            .help(format!(
                "meshc supports Istio 0.8 and 1.0 to 1.{NEWEST_MINOR}; write one of those (e.g. \"1.{NEWEST_MINOR}\"), or upgrade meshc"
            )),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> IstioVersion {
        IstioVersion::parse(s).expect("test version")
    }

    #[test]
    fn supported_range() {
        for ok in ["0.8", "0.8.0", "1.0", "1.0.9", "1.7", "1.8", "1.24", "1.29.3"] {
            assert!(supported(v(ok)), "{ok}");
        }
        for bad in ["0.7", "0.9", "1.30", "2.0", "0.1"] {
            assert!(!supported(v(bad)), "{bad}");
        }
    }
}
