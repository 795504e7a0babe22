// Certificate System scenario 4: JSS (the Java binding of NSS that Certificate
// System runs on) uses the HSM through an NSS database that holds the module.
//
//   java -Djava.library.path=/usr/lib/jss -cp jss.jar:slf4j-api.jar:commons-lang3.jar:CLASSES \
//        JssScenario NSS_DB_DIR TOKEN_NAME PIN_FILE
//
// Prints "ok: STEP" per step; on the first failure prints "FAILED step: STEP"
// with the cause and exits 1.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.PublicKey;
import java.security.spec.X509EncodedKeySpec;

import org.mozilla.jss.CryptoManager;
import org.mozilla.jss.InitializationValues;
import org.mozilla.jss.crypto.CryptoToken;
import org.mozilla.jss.crypto.KeyGenAlgorithm;
import org.mozilla.jss.crypto.KeyGenerator;
import org.mozilla.jss.crypto.KeyPairAlgorithm;
import org.mozilla.jss.crypto.KeyPairGenerator;
import org.mozilla.jss.crypto.KeyWrapAlgorithm;
import org.mozilla.jss.crypto.KeyWrapper;
import org.mozilla.jss.crypto.PrivateKey;
import org.mozilla.jss.crypto.SymmetricKey;
import org.mozilla.jss.util.Password;

public final class JssScenario {
  private static final byte[] MESSAGE =
      "a certificate request to be signed by the CA".getBytes(StandardCharsets.UTF_8);

  // Signs MESSAGE on the token through the JSS provider; verifies the
  // signature with the JDK's own provider (not NSS) on the encoded public key,
  // and checks that a changed message does not verify.
  static void signAndVerify(String label, KeyPair pair, String jssAlgorithm, String jdkAlgorithm,
      String keyAlgorithm) {
    byte[] signature = ScenarioSteps.value(label + ": sign " + jssAlgorithm + " on the token", () -> {
      java.security.Signature signer = java.security.Signature.getInstance(jssAlgorithm, "Mozilla-JSS");
      signer.initSign(pair.getPrivate());
      signer.update(MESSAGE);
      return signer.sign();
    });
    ScenarioSteps.step(label + ": the JDK verifies the signature with the public key", () -> {
      PublicKey pub = KeyFactory.getInstance(keyAlgorithm)
          .generatePublic(new X509EncodedKeySpec(pair.getPublic().getEncoded()));
      java.security.Signature verifier = java.security.Signature.getInstance(jdkAlgorithm);
      verifier.initVerify(pub);
      verifier.update(MESSAGE);
      ScenarioSteps.check(verifier.verify(signature), "signature does not verify");
      byte[] changed = MESSAGE.clone();
      changed[0] ^= 1;
      verifier.initVerify(pub);
      verifier.update(changed);
      ScenarioSteps.check(!verifier.verify(signature), "signature verifies over a changed message");
    });
    ScenarioSteps.step(label + ": JSS verifies it too", () -> {
      java.security.Signature verifier = java.security.Signature.getInstance(jssAlgorithm, "Mozilla-JSS");
      verifier.initVerify(pair.getPublic());
      verifier.update(MESSAGE);
      ScenarioSteps.check(verifier.verify(signature), "signature does not verify through JSS");
    });
  }

  // The private key does not leave the token: no encoding, and wrapping it
  // under a token AES key is refused while the same wrapper works for a key
  // that may be exported.
  static void cannotExport(String label, KeyPair pair, CryptoToken token) {
    PrivateKey key = (PrivateKey) pair.getPrivate();
    ScenarioSteps.step(label + ": the private key has no encoding (getEncoded)", () -> {
      byte[] encoded = null;
      try {
        encoded = key.getEncoded();
      } catch (RuntimeException refused) {
        System.out.println("  getEncoded refused: " + refused);
      }
      if (encoded != null && encoded.length > 0) {
        throw new AssertionError("getEncoded returned " + encoded.length + " bytes");
      }
    });
    SymmetricKey kek = ScenarioSteps.value(label + ": an AES-256 wrapping key on the token", () -> {
      KeyGenerator generator = token.getKeyGenerator(KeyGenAlgorithm.AES);
      generator.initialize(256);
      generator.temporaryKeys(true);
      return generator.generate();
    });
    ScenarioSteps.step(label + ": wrapping the private key out (AES key wrap with padding) fails", () -> {
      KeyWrapper wrapper = token.getKeyWrapper(KeyWrapAlgorithm.AES_KEY_WRAP_PAD);
      wrapper.initWrap(kek, null);
      byte[] wrapped = null;
      try {
        wrapped = wrapper.wrap(key);
      } catch (Exception refused) {
        System.out.println("  wrap refused: " + refused);
      }
      if (wrapped != null) throw new AssertionError("the private key was wrapped out: " + wrapped.length + " bytes");
    });
  }

  static String hex(byte[] bytes) {
    StringBuilder out = new StringBuilder();
    for (byte b : bytes) out.append(String.format("%02x", b & 0xff));
    return out.toString();
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: JssScenario NSS_DB_DIR TOKEN_NAME PIN_FILE");
      System.exit(2);
    }
    String dbDir = args[0];
    String tokenName = args[1];
    char[] pin = new String(Files.readAllBytes(Paths.get(args[2])), StandardCharsets.UTF_8).trim().toCharArray();

    ScenarioSteps.step("initialize CryptoManager on the NSS database", () -> {
      InitializationValues values = new InitializationValues(dbDir);
      values.removeSunProvider = false;
      CryptoManager.initialize(values);
    });
    CryptoManager manager = ScenarioSteps.value("get the CryptoManager", CryptoManager::getInstance);
    CryptoToken token = ScenarioSteps.value("find the token by name (" + tokenName + ")", () -> manager.getTokenByName(tokenName));
    ScenarioSteps.step("the token needs a login and is present", () -> {
      ScenarioSteps.check(token.isPresent(), "token not present");
      ScenarioSteps.check(!token.isLoggedIn(), "logged in before login");
    });
    ScenarioSteps.step("a wrong PIN is refused", () -> {
      try {
        token.login(new Password("not-the-pin".toCharArray()));
      } catch (org.mozilla.jss.util.IncorrectPasswordException expected) {
        return;
      }
      throw new AssertionError("login with a wrong PIN succeeded");
    });
    ScenarioSteps.step("log into the token", () -> {
      token.login(new Password(pin.clone()));
      ScenarioSteps.check(token.isLoggedIn(), "not logged in after login");
    });
    manager.setThreadToken(token);

    KeyPair rsa = ScenarioSteps.value("generate an RSA-2048 key pair on the token", () -> {
      KeyPairGenerator generator = token.getKeyPairGenerator(KeyPairAlgorithm.RSA);
      generator.initialize(2048);
      generator.temporaryPairs(false);
      generator.sensitivePairs(true);
      generator.extractablePairs(false);
      return generator.genKeyPair();
    });
    ScenarioSteps.step("the RSA key is 2048 bits and belongs to the token", () -> {
      PrivateKey key = (PrivateKey) rsa.getPrivate();
      ScenarioSteps.check(key.getType() == PrivateKey.RSA, "type " + key.getType());
      ScenarioSteps.check(key.getStrength() == 2048, "strength " + key.getStrength());
      ScenarioSteps.check(key.getOwningToken().getName().equals(tokenName), "owned by " + key.getOwningToken().getName());
    });
    KeyPair ec = ScenarioSteps.value("generate an EC P-256 key pair on the token", () -> {
      KeyPairGenerator generator = token.getKeyPairGenerator(KeyPairAlgorithm.EC);
      generator.initialize(new java.security.spec.ECGenParameterSpec("secp256r1"));
      generator.temporaryPairs(false);
      generator.sensitivePairs(true);
      generator.extractablePairs(false);
      return generator.genKeyPair();
    });
    ScenarioSteps.step("the EC key is on P-256 and belongs to the token", () -> {
      PrivateKey key = (PrivateKey) ec.getPrivate();
      ScenarioSteps.check(key.getType() == PrivateKey.EC, "type " + key.getType());
      ScenarioSteps.check(key.getOwningToken().getName().equals(tokenName), "owned by " + key.getOwningToken().getName());
      java.security.interfaces.ECPublicKey pub = (java.security.interfaces.ECPublicKey) KeyFactory.getInstance("EC")
          .generatePublic(new X509EncodedKeySpec(ec.getPublic().getEncoded()));
      ScenarioSteps.check(pub.getParams().getCurve().getField().getFieldSize() == 256, "not a 256-bit curve");
    });

    ScenarioSteps.step("print the keys' CKA_ID", () -> {
      System.out.println("key id RSA: " + hex(((PrivateKey) rsa.getPrivate()).getUniqueID()));
      System.out.println("key id EC: " + hex(((PrivateKey) ec.getPrivate()).getUniqueID()));
    });
    signAndVerify("RSA", rsa, "SHA256withRSA", "SHA256withRSA", "RSA");
    signAndVerify("EC", ec, "SHA256withEC", "SHA256withECDSA", "EC");
    cannotExport("RSA", rsa, token);
    cannotExport("EC", ec, token);

    ScenarioSteps.step("the token's key store lists both private keys", () -> {
      int found = 0;
      for (PrivateKey key : token.getCryptoStore().getPrivateKeys()) {
        if (java.util.Arrays.equals(key.getUniqueID(), ((PrivateKey) rsa.getPrivate()).getUniqueID())
            || java.util.Arrays.equals(key.getUniqueID(), ((PrivateKey) ec.getPrivate()).getUniqueID())) {
          found++;
        }
      }
      ScenarioSteps.check(found == 2, "found " + found + " of the 2 keys");
    });
    ScenarioSteps.step("log out", () -> {
      token.logout();
      ScenarioSteps.check(!token.isLoggedIn(), "still logged in");
    });
    System.out.println("JSS scenario: all steps passed");
  }
}
