use super::origins::is_origin;
use super::*;
use clap::Parser;
use figment::Jail;
use std::time::Duration;

fn cli(args: &[&str]) -> Cli {
    Cli::parse_from(std::iter::once("quickconnect").chain(args.iter().copied()))
}

#[test]
fn defaults_are_the_contracts() {
    Jail::expect_with(|_| {
        let c = Config::from_settings(Settings::load(&cli(&[])).unwrap()).unwrap();
        assert_eq!(
            c.bind.to_string(),
            "127.0.0.1:2530",
            "dev mode: loopback only"
        );
        assert_eq!(c.database_url, "sqlite://quickconnect.db?mode=rwc");
        assert!(matches!(c.jwt, JwtConfig::DevSecret(ref s) if s.len() == 32));
        assert_eq!(c.jwt_cookie, "access_token");
        assert_eq!((c.limits.rate_per_sec, c.limits.rate_burst), (20, 40));
        assert_eq!(c.limits.ping_every, Duration::from_secs(25));
        assert_eq!(c.limits.idle_timeout, Duration::from_secs(60));
        assert_eq!(
            (c.limits.queue_frames, c.limits.queue_bytes),
            (512, 1_048_576)
        );
        Ok(())
    });
}

#[test]
fn with_a_secret_the_default_bind_is_every_interface() {
    Jail::expect_with(|jail| {
        jail.set_env("QC_JWT_SECRET", "12345678901234567890123456789012");
        let c = Config::from_settings(Settings::load(&cli(&[])).unwrap()).unwrap();
        assert_eq!(c.bind.to_string(), "0.0.0.0:2530");
        jail.clear_env();
        jail.set_env("QC_BIND", "0.0.0.0:2531");
        let c = Config::from_settings(Settings::load(&cli(&[])).unwrap()).unwrap();
        assert_eq!(
            c.bind.to_string(),
            "0.0.0.0:2531",
            "dev mode with QC_BIND given"
        );
        Ok(())
    });
}

#[test]
fn file_then_env_then_flags() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "quickconnect.toml",
            "bind = \"127.0.0.1:1111\"\nws_rate_per_sec = 5\nlog = \"debug\"",
        )?;
        jail.set_env("QC_BIND", "127.0.0.1:2222");
        jail.set_env("QC_JWT_SECRET", "12345678901234567890123456789012");
        let s = Settings::load(&cli(&[])).unwrap();
        assert_eq!(s.bind.as_deref(), Some("127.0.0.1:2222"), "env beats file");
        assert_eq!(s.ws_rate_per_sec, 5, "file beats default");
        assert_eq!(s.log, "debug");
        assert_eq!(
            s.jwt_secret.as_deref(),
            Some("12345678901234567890123456789012"),
            "digits stay a string"
        );
        let s = Settings::load(&cli(&["--bind", "127.0.0.1:3333"])).unwrap();
        assert_eq!(s.bind.as_deref(), Some("127.0.0.1:3333"), "flags beat env");
        let s = Settings::load(&cli(&["serve", "--bind", "127.0.0.1:4444"])).unwrap();
        assert_eq!(
            s.bind.as_deref(),
            Some("127.0.0.1:4444"),
            "after `serve` too"
        );
        Ok(())
    });
}

#[test]
fn subcommands_list_and_take_only_their_flags() {
    use clap::CommandFactory;
    let mut command = Cli::command();
    command.build();
    let token = command
        .find_subcommand_mut("token")
        .unwrap()
        .render_help()
        .to_string();
    assert!(
        token.contains("--role") && token.contains("--database-url"),
        "{token}"
    );
    assert!(
        !token.contains("--bind") && !token.contains("--broker-url"),
        "{token}"
    );
    assert!(
        Cli::try_parse_from(["quickconnect", "token", "--role", "client", "--bind", "x"]).is_err(),
        "a flag the subcommand does not take is refused"
    );
    let serve = command
        .find_subcommand_mut("serve")
        .unwrap()
        .render_help()
        .to_string();
    assert!(
        serve.contains("--bind") && serve.contains("--broker-url"),
        "{serve}"
    );
}

#[test]
fn explicit_config_file_must_exist() {
    Jail::expect_with(|jail| {
        jail.create_file("other.toml", "ws_ping_secs = 10")?;
        assert_eq!(
            Settings::load(&cli(&["--config", "other.toml"]))
                .unwrap()
                .ws_ping_secs,
            10
        );
        assert!(Settings::load(&cli(&["--config", "missing.toml"])).is_err());
        Ok(())
    });
}

#[test]
fn validation_messages_name_the_setting() {
    let bad = |f: fn(&mut Settings)| {
        let mut s = Settings::default();
        f(&mut s);
        Config::from_settings(s).unwrap_err().to_string()
    };
    assert!(bad(|s| s.bind = Some("nope".into())).contains("QC_BIND"));
    assert!(bad(|s| s.database_url = "mysql://x".into()).contains("QC_DATABASE_URL"));
    assert!(bad(|s| s.broker_url = "kafka://x".into()).contains("QC_BROKER_URL"));
    assert!(
        bad(|s| {
            s.broker_url = "redis://127.0.0.1:6379".into();
            s.broker_prefix = " ".into();
        })
        .contains("QC_BROKER_PREFIX")
    );
    let s = Settings {
        broker_url: "redis://127.0.0.1:6379".into(),
        ..Settings::default()
    };
    assert_eq!(
        Config::from_settings(s).unwrap().broker,
        BrokerConfig::Redis {
            url: "redis://127.0.0.1:6379".into(),
            prefix: "quickconnect".into()
        }
    );
    assert!(bad(|s| s.jwt_secret = Some("short".into())).contains("32 bytes"));
    assert!(
        bad(|s| {
            s.jwt_secret = Some("x".repeat(32));
            s.jwt_public_key_file = Some("k.pem".into());
        })
        .contains("not both")
    );
    assert!(bad(|s| s.tls_cert_file = Some("c.pem".into())).contains("QC_TLS_KEY_FILE"));
    assert!(bad(|s| s.log_format = "xml".into()).contains("QC_LOG_FORMAT"));
    assert!(bad(|s| s.ws_idle_secs = 10).contains("QC_WS_IDLE_SECS"));
    assert!(bad(|s| s.jwt_leeway_secs = 120).contains("QC_JWT_LEEWAY_SECS"));
    assert!(
        bad(|s| s.jwt_public_key_file = Some("/nonexistent/key.pem".into()))
            .contains("cannot read")
    );
}

#[test]
fn contradictory_settings_stop_the_start_naming_both() {
    let start = |f: fn(&mut Settings)| {
        let mut s = Settings::default();
        f(&mut s);
        Config::from_settings(s)
    };
    // A capacity is for automatic routing only.
    let err = start(|s| s.agent_capacity = Some(3))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("QC_AGENT_CAPACITY") && err.contains("QC_ROUTING is manual"),
        "{err}"
    );
    let auto = start(|s| {
        s.routing = "auto".into();
        s.agent_capacity = Some(3);
    })
    .unwrap();
    assert_eq!(auto.auto_routing, Some(3));
    let default = start(|s| s.routing = "auto".into()).unwrap();
    assert_eq!(default.auto_routing, Some(DEFAULT_AGENT_CAPACITY));
    assert_eq!(start(|_| {}).unwrap().auto_routing, None);
    // Pairs that only make sense together, or not at all.
    for (f, names) in [
        (
            (|s: &mut Settings| {
                s.jwt_secret = Some("x".repeat(32));
                s.jwt_public_key_file = Some("k.pem".into());
            }) as fn(&mut Settings),
            ["QC_JWT_SECRET", "QC_JWT_PUBLIC_KEY_FILE"],
        ),
        (
            |s: &mut Settings| s.tls_key_file = Some("k.pem".into()),
            ["QC_TLS_CERT_FILE", "QC_TLS_KEY_FILE"],
        ),
        (
            |s: &mut Settings| s.webhook_secret = Some("0123456789abcdef".into()),
            ["QC_WEBHOOK_URL", "QC_WEBHOOK_SECRET"],
        ),
        (
            |s: &mut Settings| s.ws_ping_secs = 90,
            ["QC_WS_IDLE_SECS", "QC_WS_PING_SECS"],
        ),
    ] {
        let err = start(f).unwrap_err().to_string();
        for name in names {
            assert!(err.contains(name), "{err} names {name}");
        }
    }
}

#[test]
fn origins_must_be_scheme_host_and_port() {
    for good in [
        "https://app.example.com",
        "http://localhost:3000",
        "HTTPS://APP.EXAMPLE.COM/",
        "http://127.0.0.1:2530",
        "http://[::1]:8080",
    ] {
        assert!(is_origin(good.trim_end_matches('/')), "{good}");
    }
    for bad in [
        "example.com",
        "ftp://example.com",
        "https://",
        "https://app.example.com/path",
        "http://localhost:port",
        "http://localhost:99999",
        "http://user@host",
        "http://[::1",
    ] {
        assert!(!is_origin(bad), "{bad}");
    }
    let e = Config::from_settings(Settings {
        allowed_origins: Some("https://ok.example.com, example.com".into()),
        ..Settings::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("QC_ALLOWED_ORIGINS") && e.contains("\"example.com\""),
        "{e}"
    );
}

#[test]
fn an_unknown_key_in_the_file_stops_the_start_naming_it() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "quickconnect.toml",
            "ws_rate_per_sec = 5
ws_rate_per_second = 9",
        )?;
        let e = format!("{:#}", Settings::load(&cli(&[])).unwrap_err());
        assert!(
            e.contains("\"ws_rate_per_second\"") && e.contains("quickconnect.toml"),
            "{e}"
        );
        assert!(
            !e.contains("\"ws_rate_per_sec\""),
            "the known key is not named: {e}"
        );
        Ok(())
    });
}

#[test]
fn a_malformed_value_names_its_environment_variable() {
    Jail::expect_with(|jail| {
        jail.set_env("QC_WS_RATE_PER_SEC", "fast");
        let e = format!("{:#}", Settings::load(&cli(&[])).unwrap_err());
        assert!(e.contains("QC_WS_RATE_PER_SEC"), "{e}");
        Ok(())
    });
}

#[test]
fn webhooks_need_a_url_and_a_secret_together() {
    let config = |url: Option<&str>, secret: Option<&str>| {
        Config::from_settings(Settings {
            webhook_url: url.map(Into::into),
            webhook_secret: secret.map(Into::into),
            ..Settings::default()
        })
    };
    let secret = "0123456789abcdef";
    assert!(config(None, None).unwrap().webhooks.is_none());
    let on = config(Some("https://hooks.example.com/qc"), Some(secret))
        .unwrap()
        .webhooks
        .unwrap();
    assert_eq!(on.url, "https://hooks.example.com/qc");
    assert!(
        !format!("{on:?}").contains(secret),
        "the secret is never printed"
    );
    let err = |url, secret| config(url, secret).unwrap_err().to_string();
    assert!(err(Some("http://x/"), None).contains("QC_WEBHOOK_SECRET"));
    assert!(err(None, Some(secret)).contains("QC_WEBHOOK_URL"));
    assert!(err(Some("hooks.example.com"), Some(secret)).contains("QC_WEBHOOK_URL"));
    assert!(err(Some("http://x/"), Some("short")).contains("16 bytes"));
}
