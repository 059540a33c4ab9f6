package dev.zrepl4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.zrepl4j.rpc.transport.TestCerts;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

class ConfigcheckCommandTest {

  @TempDir Path dir;

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    var cl = Main.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return cl.execute(args);
  }

  private Path write(String name, String yaml) throws IOException {
    var f = dir.resolve(name);
    Files.writeString(f, yaml);
    return f;
  }

  /** ca.crt, and c.crt with c.key (CN backup) from it, made by openssl. */
  private TestCerts certs() throws IOException {
    var certs = new TestCerts(dir);
    certs.ca("ca", "zrepl4j test CA", TestCerts.KeyType.EC_PKCS8);
    certs.server("c", "backup", "ca", TestCerts.KeyType.EC_SEC1, "localhost");
    return certs;
  }

  private Path tlsConfig() throws IOException {
    return write(
        "zrepl.yml",
        """
        jobs:
        - name: sink1
          type: sink
          root_fs: pool/sink
          serve:
            type: tls
            listen: ":8888"
            ca: DIR/ca.crt
            cert: DIR/c.crt
            key: DIR/c.key
            client_cns: [prod]
        - name: snap1
          type: snap
          filesystems: {"tank<": true}
          snapshotting: {type: manual}
          pruning: {keep: [{type: last_n, count: 1}]}
        """
            .replace("DIR", dir.toString()));
  }

  @Test
  void goodConfigExitsZeroWithJobSummary() throws IOException {
    certs();
    var f = tlsConfig();
    assertThat(run("configcheck", "--config", f.toString())).isEqualTo(0);
    assertThat(out.toString()).isEqualTo(f + ": ok, 2 jobs: sink1 (sink), snap1 (snap)\n");
    assertThat(err.toString()).isEmpty();
  }

  @Test
  void brokenConfigExitsOneListingEveryProblem() throws IOException {
    var f =
        write(
            "broken.yml",
            """
            jobs:
            - name: sink1
              type: sink
              serve: {type: tcp, listen: ":8888", clients: {"10.0.0.0/8": "noStar"}}
            - name: s2
              type: snap
              filesystems: {"tank<": true}
              snapshotting: {type: periodic, prefix: z_, interval: soon}
              pruning: {keep: []}
              client_cn: x
            """);
    assertThat(run("configcheck", "--config", f.toString())).isEqualTo(1);
    assertThat(out.toString()).isEmpty();
    assertThat(err.toString().lines())
        .containsExactly(
            f + ":2:3: jobs[0].root_fs: required key is missing",
            f
                + ":4:63: jobs[0].serve.clients.10.0.0.0/8: the identity of a CIDR client must"
                + " contain '*' (replaced by the client's address), got 'noStar'",
            f
                + ":8:56: jobs[1].snapshotting.interval: invalid duration 'soon': expected an"
                + " integer and one of s, m, h, d, w (e.g. 10m)",
            f + ":10:3: jobs[1].client_cn: unknown key");
  }

  @Test
  void certCheckCanBeSkipped() throws IOException {
    certs();
    var f = tlsConfig();
    Files.delete(dir.resolve("c.key"));
    Files.writeString(dir.resolve("ca.crt"), "no pem here");
    assertThat(run("configcheck", "--config", f.toString())).isEqualTo(1);
    assertThat(err.toString())
        .contains("jobs[0].serve.key: file " + dir.resolve("c.key") + " does not exist")
        .contains(
            "jobs[0].serve.ca: "
                + dir.resolve("ca.crt")
                + ": no PEM certificate (-----BEGIN CERTIFICATE-----) found");
    out.getBuffer().setLength(0);
    assertThat(run("configcheck", "--config", f.toString(), "--skip-cert-check")).isEqualTo(0);
    assertThat(out.toString()).contains("ok, 2 jobs");
  }

  @Test
  void keyOfAnotherCertificateIsReportedAtTheKey() throws IOException {
    var certs = certs();
    certs.client("other", "other", "ca", TestCerts.KeyType.EC_PKCS8);
    var f = tlsConfig();
    Files.copy(certs.key("other"), dir.resolve("c.key"), StandardCopyOption.REPLACE_EXISTING);
    assertThat(run("configcheck", "--config", f.toString())).isEqualTo(1);
    assertThat(err.toString().lines())
        .singleElement()
        .asString()
        .endsWith(
            "jobs[0].serve.key: key "
                + dir.resolve("c.key")
                + " does not belong to the certificate in "
                + dir.resolve("c.crt"));
  }

  @Test
  void missingFileIsReported() {
    assertThat(run("configcheck", "--config", dir.resolve("nope.yml").toString())).isEqualTo(1);
    assertThat(err.toString()).contains("nope.yml: cannot read the config file");
  }

  private void clear() {
    out.getBuffer().setLength(0);
    err.getBuffer().setLength(0);
  }

  @Test
  void theGlobalConfigOptionBeforeTheSubcommandAsZreplWritesIt() throws Exception {
    var cfg = CommandsTest.pushConfig(dir);
    var relative = Path.of("").toAbsolutePath().relativize(cfg);
    for (var args :
        List.of(
            List.of("--config", cfg.toString(), "configcheck"),
            List.of("-c", cfg.toString(), "configcheck"),
            List.of("configcheck", "--config", cfg.toString()),
            // both, naming the same file
            List.of("--config", relative.toString(), "configcheck", "--config", cfg.toString()))) {
      clear();
      assertThat(run(args.toArray(String[]::new))).as("%s: %s", args, err).isZero();
      assertThat(out.toString()).as(args.toString()).contains(": ok, 1 job: p1 (push)");
    }
    var other = dir.resolve("other.yml");
    Files.copy(cfg, other);
    clear();
    assertThat(run("--config", cfg.toString(), "configcheck", "--config", other.toString()))
        .isEqualTo(1);
    assertThat(err.toString())
        .contains("--config given twice with different files: " + cfg)
        .contains(other + " after it");
    assertThat(out.toString()).isEmpty();
  }

  @Test
  void formatPrintsTheParsedConfig() throws Exception {
    var cfg = CommandsTest.pushConfig(dir);
    assertThat(run("configcheck", "--format", "json", "--config", cfg.toString()))
        .as(err.toString())
        .isZero();
    var tree = new ObjectMapper().readTree(out.toString());
    var job = tree.path("jobs").path(0);
    assertThat(job.path("type").asText()).as(out.toString()).isEqualTo("push");
    assertThat(job.path("name").asText()).isEqualTo("p1");
    assertThat(job.path("snapshotting").path("interval").asText()).isEqualTo("PT10M");
    assertThat(tree.path("global").path("controlSockpath").asText())
        .isEqualTo(dir.resolve("run/control").toString());
    assertThat(out.toString()).contains("tank/home").contains("^zrepl_");

    clear();
    assertThat(run("configcheck", "--format", "yaml", "--config", cfg.toString())).isZero();
    var loaded = new Load(LoadSettings.builder().build()).loadFromString(out.toString());
    assertThat(loaded).isInstanceOf(Map.class);
    assertThat((List<?>) ((Map<?, ?>) loaded).get("jobs")).hasSize(1);
    assertThat(out.toString()).contains("name: p1").contains("type: push").contains("PT10M");

    clear();
    assertThat(run("configcheck", "--format", "pretty", "--config", cfg.toString())).isZero();
    assertThat(out.toString()).contains("job p1 (push): ").contains("PT10M");

    clear();
    assertThat(run("configcheck", "--format", "xml", "--config", cfg.toString())).isEqualTo(2);
    assertThat(err.toString()).contains("xml");
  }
}
