// Certificate System scenario 5: the JDK's own PKCS #11 provider (SunPKCS11)
// signs with keys keytool generated on the HSM.
//
//   java SunPkcs11Scenario PROVIDER_CONFIG PIN_FILE ALIAS JCA_ALGORITHM ...
//
// For each ALIAS and signature algorithm (pairs): loads the token's key store
// through the provider, signs on the token, verifies with the certificate's
// public key in the JDK's software providers and through SunPKCS11, and checks
// that the private key has no encoding. Prints "ok: STEP" per step; on the
// first failure prints "FAILED step: STEP" with the cause and exits 1.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.Security;
import java.security.Signature;
import java.security.cert.X509Certificate;

public final class SunPkcs11Scenario {
  private static final byte[] MESSAGE = "an OCSP response to sign".getBytes(StandardCharsets.UTF_8);

  public static void main(String[] args) throws Exception {
    if (args.length < 4 || args.length % 2 != 0) {
      System.err.println("usage: SunPkcs11Scenario PROVIDER_CONFIG PIN_FILE ALIAS ALGORITHM [ALIAS ALGORITHM]...");
      System.exit(2);
    }
    char[] pin = new String(Files.readAllBytes(Paths.get(args[1])), StandardCharsets.UTF_8).trim().toCharArray();

    Provider provider = ScenarioSteps.value("configure SunPKCS11 with " + args[0], () -> {
      Provider configured = Security.getProvider("SunPKCS11").configure(args[0]);
      Security.addProvider(configured);
      return configured;
    });
    KeyStore store = ScenarioSteps.value("load the token's key store (log in)", () -> {
      KeyStore loaded = KeyStore.getInstance("PKCS11", provider);
      loaded.load(null, pin);
      return loaded;
    });

    for (int i = 2; i < args.length; i += 2) {
      String alias = args[i];
      String algorithm = args[i + 1];
      String label = alias + " (" + algorithm + ")";
      PrivateKey key = ScenarioSteps.value(label + ": the private key is in the key store", () -> {
        ScenarioSteps.check(store.isKeyEntry(alias), "no key entry " + alias);
        return (PrivateKey) store.getKey(alias, null);
      });
      X509Certificate cert = ScenarioSteps.value(label + ": its certificate is in the key store",
          () -> (X509Certificate) store.getCertificate(alias));
      ScenarioSteps.step(label + ": the key belongs to SunPKCS11 and has no encoding (sensitive)", () -> {
        ScenarioSteps.check(key.getClass().getName().startsWith("sun.security.pkcs11."), "key class " + key.getClass());
        ScenarioSteps.check(key.getEncoded() == null, "the private key has an encoding");
        System.out.println("  " + key);
      });
      byte[] signature = ScenarioSteps.value(label + ": sign on the token", () -> {
        Signature signer = Signature.getInstance(algorithm, provider);
        signer.initSign(key);
        signer.update(MESSAGE);
        return signer.sign();
      });
      ScenarioSteps.step(label + ": the JDK's software provider verifies it with the certificate's key", () -> {
        // Decode the public key afresh so no PKCS #11 provider is involved.
        PublicKey pub = java.security.KeyFactory.getInstance(cert.getPublicKey().getAlgorithm())
            .generatePublic(new java.security.spec.X509EncodedKeySpec(cert.getPublicKey().getEncoded()));
        Signature verifier = Signature.getInstance(algorithm);
        verifier.initVerify(pub);
        verifier.update(MESSAGE);
        ScenarioSteps.check(!verifier.getProvider().getName().startsWith("SunPKCS11"), "verifier is " + verifier.getProvider());
        ScenarioSteps.check(verifier.verify(signature), "signature does not verify");
        byte[] changed = MESSAGE.clone();
        changed[0] ^= 1;
        verifier.initVerify(pub);
        verifier.update(changed);
        ScenarioSteps.check(!verifier.verify(signature), "signature verifies over a changed message");
      });
      ScenarioSteps.step(label + ": SunPKCS11 verifies it on the token too", () -> {
        Signature verifier = Signature.getInstance(algorithm, provider);
        verifier.initVerify(cert.getPublicKey());
        verifier.update(MESSAGE);
        ScenarioSteps.check(verifier.verify(signature), "signature does not verify through SunPKCS11");
      });
    }
    System.out.println("SunPKCS11 scenario: all steps passed");
  }
}
