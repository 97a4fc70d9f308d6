//! The Docker runtime's engine cache: repeated reads are served without
//! asking the engine, and a change made behind refsup's back (a container
//! killed, an image untagged) is seen as soon as the engine reports it.

use bollard::query_parameters::{
    KillContainerOptionsBuilder, RemoveImageOptionsBuilder, TagImageOptionsBuilder,
};
use refsup::runtime::{ContainerStatus, Runtime};

use super::{engine, eventually, setup, Device, POLITE};

#[tokio::test]
async fn listings_come_from_the_cache_until_the_engine_reports_a_change() {
    let dev = Device::new();
    let Some((engine, mut cleanup)) = setup(&[&dev]) else {
        return;
    };
    let docker = engine::client(engine).await;
    let rt = dev.runtime(engine).await;
    let c = rt
        .create_and_start(&dev.spec(engine, "main", POLITE))
        .await
        .unwrap();
    // The runtime's own create produces events: once they arrive the
    // stream is live and a listing is reused.
    eventually("the listing to be served from the cache", || async {
        let before = rt.engine_lists();
        rt.list().await.unwrap();
        rt.list().await.unwrap();
        (rt.engine_lists() == before + 1 || rt.engine_lists() == before).then_some(())
    })
    .await;
    let before = rt.engine_lists();
    for _ in 0..50 {
        assert_eq!(rt.list().await.unwrap()[0].status, ContainerStatus::Running);
    }
    // At most one read when the snapshot passes its maximum age mid-loop.
    assert!(
        rt.engine_lists() - before <= 1,
        "50 listings asked the engine {} times",
        rt.engine_lists() - before
    );

    // Killed behind refsup's back: the engine's event makes it read again.
    docker
        .kill_container(
            &c.id,
            Some(KillContainerOptionsBuilder::new().signal("SIGKILL").build()),
        )
        .await
        .unwrap();
    eventually("the kill to show in the listing", || async {
        (rt.list().await.unwrap()[0].status == ContainerStatus::Exited).then_some(())
    })
    .await;

    // An image untagged behind refsup's back.
    let repo = "lockcheck-refsup-test-cache";
    docker
        .tag_image(
            &engine.image,
            Some(
                TagImageOptionsBuilder::new()
                    .repo(repo)
                    .tag(&dev.id)
                    .build(),
            ),
        )
        .await
        .unwrap();
    let extra = format!("{repo}:{}", dev.id);
    cleanup.images.push(extra.clone());
    assert!(rt.has_image(&extra).await.unwrap());
    docker
        .remove_image(
            &extra,
            Some(RemoveImageOptionsBuilder::new().noprune(true).build()),
            None,
        )
        .await
        .unwrap();
    eventually("the untag to show", || async {
        (!rt.has_image(&extra).await.unwrap()).then_some(())
    })
    .await;
}
