package dev.zrepl4j.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * DSN parsing of {@link PostgresCheckpoint} (lib/pq) and {@link MysqlLockTables} (go-sql-driver).
 */
class DatabaseDsnTest {
  private static final Duration T = Duration.ofSeconds(30);

  // ---------------------------------------------------------------------------------------------
  // postgres-checkpoint

  @Test
  void zreplsPostgresExampleDsn() {
    var t =
        PostgresCheckpoint.parse(
            "host=localhost port=5432 user=postgres password=yourpasswordhere sslmode=disable", T);
    assertThat(t.url()).isEqualTo("jdbc:postgresql://localhost:5432/");
    assertThat(t.properties())
        .containsEntry("user", "postgres")
        .containsEntry("password", "yourpasswordhere")
        .containsEntry("sslmode", "disable")
        .containsEntry("connectTimeout", "30");
    assertThat(t.display()).isEqualTo("postgres@localhost:5432/");
    assertThat(t.toString()).doesNotContain("yourpasswordhere");
  }

  @Test
  void postgresDefaultsAreLibPqs() {
    var t = PostgresCheckpoint.parse("", T);
    assertThat(t.url()).isEqualTo("jdbc:postgresql://localhost:5432/");
    assertThat(t.properties())
        .containsEntry("sslmode", "require")
        .containsEntry("user", System.getProperty("user.name"))
        .doesNotContainKey("password");
  }

  @Test
  void postgresQuotedValuesEscapesAndServerSettings() {
    var t =
        PostgresCheckpoint.parse(
            "  dbname = 'my db'  password='it\\'s a secret' host=::1 port=6543 connect_timeout=5"
                + " search_path=zrepl application_name=snap",
            Duration.ofSeconds(10));
    assertThat(t.url()).isEqualTo("jdbc:postgresql://[::1]:6543/my%20db");
    assertThat(t.properties())
        .containsEntry("password", "it's a secret")
        .containsEntry("connectTimeout", "5")
        .containsEntry("ApplicationName", "snap")
        .containsEntry("options", "-c search_path=zrepl");
  }

  @Test
  void postgresUrlDsn() {
    var t =
        PostgresCheckpoint.parse(
            "postgres://zrepl:p%40ss:w%2Frd@db.example.com:5433/app?sslmode=verify-full&"
                + "connect_timeout=3",
            T);
    assertThat(t.url()).isEqualTo("jdbc:postgresql://db.example.com:5433/app");
    assertThat(t.properties())
        .containsEntry("user", "zrepl")
        .containsEntry("password", "p@ss:w/rd")
        .containsEntry("sslmode", "verify-full")
        .containsEntry("connectTimeout", "3");
    assertThat(t.display()).isEqualTo("zrepl@db.example.com:5433/app");
    var v6 = PostgresCheckpoint.parse("postgresql://[fe80::1]/", T);
    assertThat(v6.url()).isEqualTo("jdbc:postgresql://[fe80::1]:5432/");
  }

  @Test
  void postgresInvalidDsnsAreNamedWithoutThePassword() {
    assertThatThrownBy(() -> PostgresCheckpoint.parse("host=localhost ...", T))
        .hasMessageContaining("missing '=' after the word at character 16");
    assertThatThrownBy(() -> PostgresCheckpoint.parse("user=x s3cr3tpw", T))
        .hasMessageNotContaining("s3cr3tpw");
    assertThatThrownBy(() -> PostgresCheckpoint.parse("password='s3cr3tpw", T))
        .hasMessageContaining("unterminated quoted string")
        .hasMessageNotContaining("s3cr3tpw");
    assertThatThrownBy(() -> PostgresCheckpoint.parse("sslmode=prefer", T))
        .hasMessageContaining("unsupported sslmode 'prefer'");
    assertThatThrownBy(() -> PostgresCheckpoint.parse("port=99999", T))
        .hasMessageContaining("invalid port '99999'");
    assertThatThrownBy(() -> PostgresCheckpoint.parse("host=/run/postgresql", T))
        .hasMessageContaining("unix-domain socket host '/run/postgresql' is not supported yet");
    assertThatThrownBy(() -> PostgresCheckpoint.parse("postgres://u:s3cr3tpw%zz@h/", T))
        .hasMessageContaining("invalid %-escape")
        .hasMessageNotContaining("s3cr3tpw");
  }

  // ---------------------------------------------------------------------------------------------
  // mysql-lock-tables

  @Test
  void zreplsMysqlExampleDsns() {
    var t = MysqlLockTables.parse("zrepl_lock_tables:yourpasswordhere@tcp(localhost)/", T);
    assertThat(t.url()).isEqualTo("jdbc:mariadb://localhost:3306/");
    assertThat(t.properties())
        .containsEntry("user", "zrepl_lock_tables")
        .containsEntry("password", "yourpasswordhere")
        .containsEntry("sslMode", "disable")
        .containsEntry("connectTimeout", "30000");
    assertThat(t.display()).isEqualTo("zrepl_lock_tables@tcp(localhost:3306)/");
    assertThat(t.toString()).doesNotContain("yourpasswordhere");

    var doc = MysqlLockTables.parse("user:pw@tcp(localhost)/", T);
    assertThat(doc.properties()).containsEntry("user", "user").containsEntry("password", "pw");
  }

  @Test
  void mysqlDefaultsParamsAndOddPasswords() {
    var bare = MysqlLockTables.parse("/", T);
    assertThat(bare.url()).isEqualTo("jdbc:mariadb://127.0.0.1:3306/");
    assertThat(bare.properties()).doesNotContainKeys("user", "password");

    var t =
        MysqlLockTables.parse(
            "root:p@ss:w(rd)@tcp([::1]:3307)/shop?timeout=1.5s&readTimeout=1m30s&tls=skip-verify"
                + "&parseTime=true&sql_mode=%27ANSI%27",
            T);
    assertThat(t.url()).isEqualTo("jdbc:mariadb://[::1]:3307/shop");
    assertThat(t.properties())
        .containsEntry("user", "root")
        .containsEntry("password", "p@ss:w(rd)")
        .containsEntry("connectTimeout", "1500")
        .containsEntry("socketTimeout", "30000")
        .containsEntry("sslMode", "trust")
        .containsEntry("sessionVariables", "sql_mode='ANSI'");
    assertThat(MysqlLockTables.parse("u@tcp(db:3308)/?tls=true", T).properties())
        .containsEntry("sslMode", "verify-full")
        .doesNotContainKey("password");
  }

  @Test
  void goDurations() {
    assertThat(MysqlLockTables.goDuration("k", "30s")).isEqualTo(Duration.ofSeconds(30));
    assertThat(MysqlLockTables.goDuration("k", "1h2m3.5s"))
        .isEqualTo(Duration.ofSeconds(3723, 500_000_000));
    assertThat(MysqlLockTables.goDuration("k", "250ms")).isEqualTo(Duration.ofMillis(250));
    assertThat(MysqlLockTables.goDuration("k", "0")).isZero();
    for (var bad : new String[] {"", "5", "5x", "s", "1m 2s", ".s"}) {
      assertThatThrownBy(() -> MysqlLockTables.goDuration("k", bad))
          .as(bad)
          .hasMessageContaining("invalid duration");
    }
  }

  @Test
  void mysqlInvalidDsnsAreNamedWithoutThePassword() {
    for (var e :
        Map.of(
                "root:s3cr3tpw@tcp(localhost)", "missing the slash",
                "root:s3cr3tpw@tcp(localhost/", "missing closing parenthesis",
                "root:s3cr3tpw@unix(/run/mysqld/mysqld.sock)/", "unix protocol is not supported",
                "root:s3cr3tpw@udp(x)/", "unknown network 'udp'",
                "root:s3cr3tpw@tcp(h:0)/", "invalid port",
                "root:s3cr3tpw@/?tls=custom", "custom TLS config",
                "root:s3cr3tpw@/?parseTime=yes", "invalid bool value 'yes' of parseTime")
            .entrySet()) {
      assertThatThrownBy(() -> MysqlLockTables.parse(e.getKey(), T))
          .as(e.getKey())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(e.getValue())
          .hasMessageNotContaining("s3cr3tpw");
    }
  }
}
