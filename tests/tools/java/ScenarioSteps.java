// How the Java scenarios (JssScenario, SunPkcs11Scenario) run their steps:
// each step prints "ok: STEP"; the first failure prints "FAILED step: STEP"
// with its cause and exits 1, which is what the test scripts look for.
import java.util.concurrent.Callable;

final class ScenarioSteps {
  private ScenarioSteps() {}

  interface Step {
    void run() throws Exception;
  }

  static void step(String name, Step body) {
    try {
      body.run();
      System.out.println("ok: " + name);
    } catch (Throwable e) {
      System.out.println("FAILED step: " + name);
      e.printStackTrace(System.out);
      System.exit(1);
    }
  }

  // A step that computes a value the next steps use.
  static <T> T value(String name, Callable<T> body) {
    Object[] result = new Object[1];
    step(name, () -> result[0] = body.call());
    @SuppressWarnings("unchecked")
    T value = (T) result[0];
    return value;
  }

  static void check(boolean condition, String what) {
    if (!condition) throw new AssertionError(what);
  }
}
