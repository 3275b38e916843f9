import Foundation

/// The thread the system commands' tasks run on.
///
/// `SystemCommand.run` blocks its caller until the command ends. The caller
/// is the orchestrator's loop, or a test's clean-up on the cooperative pool;
/// with two cores the pool has two threads, and a task that needed one of
/// them could wait behind the very thread that waits for it. Tasks that
/// prefer this executor, and the child tasks they start, run here instead.
final class SystemCommandThread: TaskExecutor, @unchecked Sendable {
    static let shared = SystemCommandThread()

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    private init() {
        let thread = Thread { [unowned self] in self.serve() }
        thread.name = "system-commands"
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func serve() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
