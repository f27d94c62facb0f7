//! The tracer mode switches of `TracerMode.h`: the tracing state, Tracer
//! dispatch, and `NoTracerDispatchMode`, and how they move together.

use kiln::core::tls_local_dispatch_key_set;
use kiln::{
    is_dispatch_enabled, set_dispatch_enabled, DType, Device, DispatchKey, Error,
    NoTracerDispatchMode,
};
use kiln_trace::{get_tracing_state, is_tracing, set_tracing_state, trace, TracingState};
use std::cell::RefCell;
use std::rc::Rc;

fn fresh_state() -> kiln_trace::TracingStateRef {
    Rc::new(RefCell::new(TracingState::new()))
}

#[test]
fn fresh_thread_is_not_tracing_and_tracer_not_included() {
    kiln::init().unwrap();
    let seen = std::thread::spawn(|| {
        (
            is_tracing(),
            get_tracing_state().is_none(),
            kiln::core::tls_is_dispatch_key_included(DispatchKey::Tracer),
            is_dispatch_enabled(),
        )
    })
    .join()
    .unwrap();
    assert_eq!(seen, (false, true, false, false));
}

#[test]
fn set_tracing_state_moves_both_switches() {
    kiln::init().unwrap();
    assert!(!is_tracing() && !is_dispatch_enabled());
    set_tracing_state(Some(fresh_state())).unwrap();
    assert!(is_tracing(), "a state is set");
    assert!(
        is_dispatch_enabled(),
        "set_tracing_state(Some) enables Tracer dispatch"
    );
    set_tracing_state(None).unwrap();
    assert!(!is_tracing(), "the state is cleared");
    assert!(
        !is_dispatch_enabled(),
        "set_tracing_state(None) disables Tracer dispatch"
    );
}

#[test]
fn ops_are_recorded_into_a_state_set_by_hand() {
    let x = kiln::from_vec(vec![1.0f32, 2.0], &[2], &Device::Cpu).unwrap();
    let state = fresh_state();
    state.borrow_mut().add_input(&x);
    set_tracing_state(Some(state.clone())).unwrap();
    let y = x.add(&x);
    set_tracing_state(None).unwrap();
    let y = y.unwrap();
    let st = state.borrow();
    assert_eq!(st.graph.op_names(), vec!["kiln::add"]);
    assert!(
        st.value_of(&y).is_some(),
        "the result is mapped to the add's output"
    );
}

#[test]
fn no_tracer_dispatch_mode_pauses_recording_but_not_the_trace() {
    let x = kiln::from_vec(vec![-1.0f32, 2.0], &[2], &Device::Cpu).unwrap();
    let (_, g) = trace(
        |i| {
            let a = {
                let _guard = NoTracerDispatchMode::new();
                assert!(is_tracing(), "the guard does not drop the tracing state");
                assert!(!is_dispatch_enabled(), "the guard excludes Tracer");
                i[0].relu()?
            };
            assert!(
                is_tracing() && is_dispatch_enabled(),
                "both back after the guard drops"
            );
            a.relu()
        },
        &[x],
    )
    .unwrap();
    // The relu under the guard was not recorded: its result entered as a constant.
    assert_eq!(g.op_names(), vec!["kiln::relu"]);
    assert_eq!(g.num_constants(), 1);
}

#[test]
fn no_tracer_dispatch_mode_pauses_recording_of_add() {
    let x = kiln::from_vec(vec![-1.0f32, 2.0], &[2], &Device::Cpu).unwrap();
    let (_, g) = trace(
        |i| {
            let a = {
                let _guard = NoTracerDispatchMode::new();
                i[0].add(&i[0])?
            };
            a.mul(&i[0])
        },
        &[x],
    )
    .unwrap();
    assert_eq!(g.op_names(), vec!["kiln::mul"]);
    assert_eq!(
        g.num_constants(),
        1,
        "the untraced sum enters as a constant"
    );
}

#[test]
fn set_dispatch_enabled_inside_no_tracer_dispatch_mode_fails_and_changes_nothing() {
    kiln::init().unwrap();
    let _guard = NoTracerDispatchMode::new();
    let before = tls_local_dispatch_key_set();
    for enabled in [true, false] {
        let e = set_dispatch_enabled(enabled).unwrap_err();
        assert!(matches!(e, Error::TracerExcluded));
        assert_eq!(
            e.to_string(),
            "Cannot enable tracing within the scope of NoTracerDispatchMode!"
        );
        assert_eq!(
            tls_local_dispatch_key_set(),
            before,
            "the key sets are unchanged"
        );
    }
    // set_tracing_state goes through the same check and sets no state.
    assert!(matches!(
        set_tracing_state(Some(fresh_state())),
        Err(Error::TracerExcluded)
    ));
    assert!(!is_tracing());
    assert_eq!(tls_local_dispatch_key_set(), before);
    // And so does trace().
    let x = kiln::zeros(&[2], DType::F32, &Device::Cpu).unwrap();
    assert!(matches!(
        trace(|i| i[0].add(&i[0]), &[x]),
        Err(Error::TracerExcluded)
    ));
    assert!(!is_tracing());
    assert_eq!(tls_local_dispatch_key_set(), before);
}
