//! The writer's one way of using a second core: a large slice of work is
//! cut into two contiguous halves, the caller's thread takes the first and
//! one scoped thread the second. Planning (comparing old files) and staging
//! (filling the new tree) both use it; neither depends on the order in which
//! the halves finish, and the results come back in the slice's order.

use super::WriteError;

/// Below this many items, a second thread costs more than it saves.
pub(super) const PARALLEL_FROM: usize = 512;

/// Where [`in_halves`] starts the second half of `len` items, or `None`
/// when it keeps them whole on one thread.
pub(super) fn second_half(len: usize) -> Option<usize> {
    (len >= PARALLEL_FROM).then_some(len / 2)
}

/// Runs `work` on `items`: whole on this thread below [`PARALLEL_FROM`]
/// items, else on two contiguous halves, the second on a scoped thread.
/// Returns the results in order (one or two of them). An error of the
/// first half is the one reported when both fail; a panic on the second
/// thread is resumed on this one.
pub(super) fn in_halves<T, R, F>(items: &[T], work: F) -> Result<Vec<R>, WriteError>
where
    T: Sync,
    R: Send,
    F: Fn(&[T]) -> Result<R, WriteError> + Sync,
{
    let Some(at) = second_half(items.len()) else {
        return Ok(vec![work(items)?]);
    };
    let (first, second) = items.split_at(at);
    std::thread::scope(|scope| {
        let second = scope.spawn(|| work(second));
        let first = work(first);
        let second = second
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Ok(vec![first?, second?])
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::thread::ThreadId;

    use super::*;

    /// The results of each half in order, and which threads ran them.
    fn run(n: usize) -> (Vec<Vec<usize>>, usize) {
        let items: Vec<usize> = (0..n).collect();
        let threads: Mutex<Vec<ThreadId>> = Mutex::default();
        let parts = in_halves(&items, |half| {
            threads.lock().expect("lock").push(std::thread::current().id());
            Ok(half.to_vec())
        })
        .expect("no error");
        let mut threads = threads.into_inner().expect("lock");
        threads.dedup();
        (parts, threads.len())
    }

    #[test]
    fn small_work_stays_on_one_thread_and_large_work_is_halved_in_order() {
        let (parts, threads) = run(PARALLEL_FROM - 1);
        assert_eq!((parts.len(), threads), (1, 1));
        assert_eq!(parts.concat(), (0..PARALLEL_FROM - 1).collect::<Vec<_>>());

        let (parts, threads) = run(1001);
        assert_eq!((parts.len(), threads), (2, 2));
        assert_eq!((parts[0].len(), parts[1].len()), (500, 501));
        assert_eq!(parts.concat(), (0..1001).collect::<Vec<_>>());
    }

    #[test]
    fn an_error_of_either_half_is_reported_the_first_halfs_before_the_seconds() {
        let items: Vec<usize> = (0..PARALLEL_FROM).collect();
        let last = PARALLEL_FROM - 1;
        // Each half fails with the first of `at` it holds.
        let reported = |at: &[usize]| {
            let result = in_halves(&items, |half| match at.iter().find(|i| half.contains(i)) {
                Some(i) => Err(WriteError::Raced {
                    dir: format!("/{i}").into(),
                }),
                None => Ok(()),
            });
            match result {
                Err(WriteError::Raced { dir }) => dir.display().to_string(),
                other => format!("{other:?}"),
            }
        };
        assert_eq!(reported(&[]), "Ok([(), ()])");
        assert_eq!(reported(&[0]), "/0");
        assert_eq!(reported(&[last]), format!("/{last}"));
        assert_eq!(reported(&[last, 0]), "/0");
    }
}
